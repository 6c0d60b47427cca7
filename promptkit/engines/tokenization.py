"""The engine's own tokenization: the exact ids the model is fed, counted and sent alike.

Chat messages are tokenized by the chat template itself (which writes whatever special tokens it
wants); they are never rendered to text and tokenized again, which would add a second BOS where
the tokenizer adds one to plain text.
"""

from __future__ import annotations

from promptkit.engines.implementing import split_at_spaces
from promptkit.errors import PromptkitError
from promptkit.types import GenRequest, Prompt


class Tokenization:
    """Loads the tokenizer (and the config, for the window) on first use; never the weights."""

    def __init__(self, source: str, *, revision: str | None = None, gguf_file: str | None = None,
                 trust_remote_code: bool = False, max_model_len: int | None = None) -> None:  # fmt: skip
        self.source = source
        self.kwargs = {"revision": revision, "trust_remote_code": trust_remote_code}
        if gguf_file:
            self.kwargs["gguf_file"] = gguf_file
        self.max_model_len = max_model_len
        self._tokenizer = None
        self._window: int | None = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.source, **self.kwargs)
            except OSError as exc:
                raise PromptkitError(
                    f"cannot load the tokenizer of {self.source!r}: {str(exc).splitlines()[0]}"
                ) from None
        return self._tokenizer

    @property
    def context_window(self) -> int:
        if self._window is None:
            if self.max_model_len:
                self._window = int(self.max_model_len)
            else:
                from transformers import AutoConfig

                config = AutoConfig.from_pretrained(self.source, **self.kwargs)
                self._window = int(getattr(config, "max_position_embeddings", 0) or self.tokenizer.model_max_length)
        return self._window

    def encode(self, prompt: Prompt) -> list[int]:
        if isinstance(prompt, str):
            return list(self.tokenizer(prompt)["input_ids"])
        ids = self.tokenizer.apply_chat_template(
            [dict(m) for m in prompt], add_generation_prompt=True, tokenize=True, return_dict=False
        )
        if hasattr(ids, "keys"):  # some versions return a BatchEncoding
            ids = ids["input_ids"]
        return [int(t) for t in ids]

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Context and continuation ids split as lm-evaluation-harness splits them.

        The context's trailing spaces move to the continuation (so ' A' after 'Answer:' is the token
        the model would write); the whole text is encoded and the context's ids are cut off its front,
        so the split falls on the boundary the tokenizer draws. An empty context is the BOS (else EOS)
        token, as lm-eval's prefix token.
        """
        if not context:
            ids = self.encode(continuation)
            prefix = self.tokenizer.bos_token_id
            prefix = self.tokenizer.eos_token_id if prefix is None else prefix
            return ([prefix], ids) if not ids or ids[0] != prefix else (ids[:1], ids[1:])
        context, continuation = split_at_spaces(context, continuation)
        whole = self.encode(context + continuation)
        head = self.encode(context)
        return head, whole[len(head) :]

    def render_chat(self, messages: Prompt) -> str:
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in messages],  # type: ignore[arg-type]
            add_generation_prompt=True,
            tokenize=False,
        )

    def check_fits(
        self, requests: list[GenRequest], encoded: list[list[int]], model: str, window: int | None = None
    ) -> None:
        """A prompt that fills the window (the model's, or what is left of it) is an error before anything
        runs: never a silent truncation."""
        window = self.context_window if window is None else window
        for r, ids in zip(requests, encoded):
            if len(ids) >= window:
                start = r.prompt if isinstance(r.prompt, str) else str(r.prompt[-1]["content"])
                raise PromptkitError(
                    f"a prompt of {len(ids)} tokens does not fit {model}'s {window}-token window "
                    f"(it starts {start[:60]!r})"
                )
