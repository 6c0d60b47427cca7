"""A few records for each of eight lm-eval tasks, in each task's own schema (its hub dataset's columns), written
as the split files `--data FOLDER` reads: what the lm-eval agreement tests run on, without network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _gsm8k(question: str, work: str, answer: int) -> dict[str, Any]:
    return {"question": question, "answer": f"{work}\n#### {answer}"}


GSM8K = [
    _gsm8k("Tom has 3 apples and buys 4 more. How many apples does he have?", "3 + 4 = <<3+4=7>>7", 7),
    _gsm8k("A box holds 12 pens. How many pens are in 2 boxes?", "2 * 12 = <<2*12=24>>24", 24),
    _gsm8k("Sam had 10 dollars and spent 4. How many dollars are left?", "10 - 4 = <<10-4=6>>6", 6),
    _gsm8k("A farm has 5 cows and 6 hens. How many animals are there?", "5 + 6 = <<5+6=11>>11", 11),
    _gsm8k("Each of 3 bags has 1,000 beads. How many beads in all?", "3 * 1,000 = <<3*1000=3000>>3,000", 3000),
    _gsm8k("Ann reads 9 pages a day. How many pages in 2 days?", "9 * 2 = <<9*2=18>>18", 18),
]


def _arc(i: int, question: str, options: list[str], answer: int, letters: str = "ABCD") -> dict[str, Any]:
    labels = list(letters[: len(options)])
    return {"id": f"arc{i}", "question": question, "choices": {"text": options, "label": labels},
            "answerKey": labels[answer]}  # fmt: skip


ARC = [
    _arc(0, "Which of these is a mammal?", ["shark", "whale", "trout", "eel"], 1),
    _arc(1, "What melts ice?", ["heat", "cold"], 0),
    _arc(2, "What do plants need to make food?", ["light", "rocks", "plastic"], 0, "123"),
    _arc(3, "Which is a source of energy for Earth?", ["the Moon", "the Sun", "Mars", "a comet"], 1),
    _arc(4, "Which state of matter has a fixed shape?", ["gas", "liquid", "solid"], 2),
    _arc(5, "What do we breathe in?", ["oxygen", "sand", "salt", "oil"], 0),
]

BOOLQ = [
    {"question": "is the sun a star", "passage": "The Sun is the star at the center of the Solar System.",
     "idx": 0, "label": 1},
    {"question": "can penguins fly", "passage": "Penguins are flightless birds that live mostly in the south.",
     "idx": 1, "label": 0},
    {"question": "is water wet", "passage": "Water is a liquid that makes things wet.", "idx": 2, "label": 1},
    {"question": "is paris in spain", "passage": "Paris is the capital and largest city of France.",
     "idx": 3, "label": 0},
    {"question": "do fish live in water", "passage": "Fish are animals that live in water and breathe with gills.",
     "idx": 4, "label": 1},
    {"question": "is ice hot", "passage": "Ice is frozen water and is cold to the touch.", "idx": 5, "label": 0},
]  # fmt: skip


def _hellaswag(i: int, label: str, ctx_a: str, ctx_b: str, endings: list[str], gold: int) -> dict[str, Any]:
    return {"ind": i, "activity_label": label, "ctx_a": ctx_a, "ctx_b": ctx_b, "ctx": f"{ctx_a} {ctx_b}",
            "endings": endings, "source_id": f"src{i}", "split": "val", "split_type": "indomain",
            "label": str(gold)}  # fmt: skip


HELLASWAG = [
    _hellaswag(0, "Making tea", "A man boils water in a kettle.", "he",
               ["pours the water over a tea bag.", "throws the kettle [title] away.", "sings to the cat.",
                "paints the wall."], 0),
    _hellaswag(1, "Washing a car", "A woman sprays the car with water.", "then she",
               ["eats the car.", "scrubs it with a soapy sponge.", "flies away.", "reads a book."], 1),
    _hellaswag(2, "Running", "A runner ties his shoes at the start line.", "the runner",
               ["falls asleep.", "cooks dinner.", "starts running when the whistle blows.", "swims."], 2),
    _hellaswag(3, "Baking", "A girl mixes flour and eggs in a bowl.", "she",
               ["puts the batter in the oven.", "drives a truck.", "plants a tree.", "climbs a wall."], 0),
]  # fmt: skip


def _csqa(i: int, question: str, options: list[str], answer: int) -> dict[str, Any]:
    return {"id": f"cs{i}", "question": question, "question_concept": "thing",
            "choices": {"label": list("ABCDE"), "text": options}, "answerKey": "ABCDE"[answer]}  # fmt: skip


CSQA = [
    _csqa(0, "Where do fish live?", ["desert", "sea", "sky", "house", "car"], 1),
    _csqa(1, "What do you use to write?", ["pen", "spoon", "shoe", "cup", "door"], 0),
    _csqa(2, "Where would you sleep?", ["oven", "road", "bed", "river", "shop"], 2),
    _csqa(3, "What keeps you dry in rain?", ["fork", "umbrella", "book", "lamp", "ball"], 1),
]

SST2 = [
    {"sentence": "a wonderful, moving film", "label": 1, "idx": 0},
    {"sentence": "dull and far too long", "label": 0, "idx": 1},
    {"sentence": "the best comedy of the year", "label": 1, "idx": 2},
    {"sentence": "a boring mess", "label": 0, "idx": 3},
]

WINOGRANDE = [
    {"sentence": "The trophy didn't fit in the suitcase because _ was too big.", "option1": "the trophy",
     "option2": "the suitcase", "answer": "1"},
    {"sentence": "Anna thanked Mary because _ had helped her.", "option1": "Anna", "option2": "Mary",
     "answer": "2"},
    {"sentence": "The cat chased the mouse until _ was tired of running.", "option1": "the cat",
     "option2": "the mouse", "answer": "1"},
    {"sentence": "The ball broke the window because _ was fragile.", "option1": "the ball",
     "option2": "the window", "answer": "2"},
]  # fmt: skip

# task -> (its evaluated split's name, its training split's name or None, records)
TASKS: dict[str, tuple[str, str | None, list[dict[str, Any]]]] = {
    "gsm8k": ("test", "train", GSM8K),
    "gsm8k_cot": ("test", None, GSM8K),  # its demonstrations are written in its YAML
    "arc_easy": ("test", "train", ARC),
    "boolq": ("validation", "train", BOOLQ),
    "hellaswag": ("validation", "train", HELLASWAG),
    "commonsense_qa": ("validation", "train", CSQA),
    "sst2": ("validation", "train", SST2),
    "winogrande": ("validation", "train", WINOGRANDE),
}
EVALUATED = 3
"""The first records are evaluated; the rest (and the first, which lm-eval's sampler then skips) are the
training split the demonstrations are drawn from."""


def write_task_folder(task: str, folder: Path) -> Path:
    """SPLIT.jsonl files for the task in `folder` (made)."""
    evaluated, training, records = TASKS[task]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{evaluated}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:EVALUATED]))
    if training:
        (folder / f"{training}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder
