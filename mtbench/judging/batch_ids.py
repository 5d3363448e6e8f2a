"""What a batch request is called: a `custom_id` that names its match and hashes what it asks.

A provider returns a batch's results by `custom_id`, in any order. The id names the match and
game a request is for, readably, and hashes everything that decides what the judge is asked,
so that a result is only ever written for a pending call that asks exactly the same now
(`mtbench.judging.batch`).
"""

from __future__ import annotations

import hashlib
import json
import re

from mtbench.judging.matches import Match

_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def custom_id(match: Match, swapped: bool) -> str:
    """A request's `custom_id`: `q81-t1-s1-g1-` and a hash of what the request asks.

    Readable: question id, turn, sample and game (2: the pairwise order swapped); hashed:
    those again with the models, the judge prompt and the exact messages, so that the id
    changes whenever what is judged does. At most 64 characters of `[A-Za-z0-9_-]`
    (Anthropic's rule; OpenAI takes any unique string).
    """
    identity = [
        match.question.question_id,
        list(match.models),
        list(match.judge.name),
        match.turn,
        match.sample,
        swapped,
        match.messages(swapped),
    ]
    digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:20]
    question = _UNSAFE.sub("_", str(match.question.question_id))[:16]
    head = f"q{question}-t{match.turn}-s{match.sample}-g{2 if swapped else 1}"
    return f"{head[:43]}-{digest}"
