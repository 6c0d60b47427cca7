"""The CPU output head copies a strided input to contiguous rows: same numbers, the fast kernel."""

import torch

from promptkit.engines.hf_output_head import contiguous_output_head


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(16, 32, bias=False)

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.head


def test_head_sees_contiguous_rows_and_gives_the_same_numbers() -> None:
    model = _Tiny()
    hidden = torch.randn(4, 7, 16, generator=torch.Generator().manual_seed(0))
    kept = hidden[:, -2:, :]
    assert not kept.is_contiguous()
    expected = model.head(kept.contiguous())
    seen: list[bool] = []
    contiguous_output_head(model)
    model.head.register_forward_hook(lambda m, args, out: seen.append(args[0].is_contiguous()))
    assert torch.equal(model.head(kept), expected)
    assert seen == [True]
