import promptkit


def test_all_names_exist_and_are_sorted():
    for name in promptkit.__all__:
        assert hasattr(promptkit, name), name
    assert list(promptkit.__all__) == sorted(promptkit.__all__)
