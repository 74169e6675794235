"""Leptons of the generator (agc.dataset.leptons): prompt, non-prompt and fake candidates."""

from __future__ import annotations

from typing import Any

import numpy as np

from agc.dataset.fourvectors import p4_ptetaphim
from agc.dataset.leptons import FAKE, NONPROMPT, PROMPT, TAU, reconstruct_leptons
from agc.dataset.partons import PromptLepton


def test_prompt_and_nonprompt_leptons(recipe: dict[str, Any]) -> None:
    det = recipe["detector"]
    rng = np.random.default_rng(12)
    n = 4000
    p4 = p4_ptetaphim(np.full(n, 60.0), rng.uniform(-1.0, 1.0, n), rng.uniform(-3, 3, n), 0.0)
    prompt = PromptLepton(
        p4, rng.random(n) < 0.5, np.where(rng.random(n) < 0.5, 1, -1), np.zeros(n, bool)
    )
    jets = {  # one b jet of 80 GeV per event
        "event": np.arange(n),
        "pt": np.full(n, 80.0),
        "eta": np.zeros(n),
        "phi": np.zeros(n),
        "flavour": np.full(n, 5, np.int32),
    }
    leptons = reconstruct_leptons(rng, prompt, jets, det)
    origin = leptons["origin"]
    assert set(np.unique(origin)) <= {PROMPT, TAU, NONPROMPT, FAKE}
    assert not np.any(origin == TAU)
    assert not np.any(origin == FAKE)
    assert 0.8 < np.sum(origin == PROMPT) / n <= 1.0  # reconstruction efficiency
    assert np.any(origin == NONPROMPT)
    tight_prompt = np.mean(leptons["tightId"][(origin == PROMPT) & ~leptons["is_e"]])
    tight_nonprompt = np.mean(leptons["tightId"][(origin == NONPROMPT) & ~leptons["is_e"]])
    assert tight_prompt > tight_nonprompt
    assert np.median(leptons["iso"][origin == NONPROMPT]) > np.median(
        leptons["iso"][origin == PROMPT]
    )
    assert np.all(leptons["sip3d"] >= 0)
