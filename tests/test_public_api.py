import promptkit


def test_all_names_exist_once():
    for name in promptkit.__all__:
        assert hasattr(promptkit, name), name
    assert len(set(promptkit.__all__)) == len(promptkit.__all__)
