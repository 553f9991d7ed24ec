"""The stage sets the suites run over."""

from rediscluster_opt import Stages, native
from rediscluster_opt.stages import REGISTRY

# Presets plus mixed combinations: every combination must give the same answers. Each
# runs composed (one call per stage) and fused (the dispatch stage's generated route,
# with or without the shaped command methods), so the fused path is held to every test
# the composed one passes.
# The slot-map containers of US-012 (dict, bytes, array, tuple) ride along in the mixed
# ones, so every variant is held to the suites without more sets.
COMBINATIONS = [
    Stages.baseline(),
    Stages.optimized(),
    Stages.baseline().replace(parser="hiredis", writer="join", slot_hash="table", slot_map="dict"),
    Stages.optimized().replace(submit="event", slot_map="bytes", redirect="regex"),
    Stages.optimized().replace(
        node_select="locked", delivery="per_reply", writer="writelines", submit="future", slot_map="array"
    ),
]
FUSED = ["shaped", "fused", "shaped", "fused", "fused"]  # per combination: both fused forms are used
STAGE_SETS = [
    *(combination.replace(dispatch="composed") for combination in COMBINATIONS),
    *(combination.replace(dispatch=fused) for combination, fused in zip(COMBINATIONS, FUSED, strict=True)),
    Stages.optimized().replace(dispatch="fused", slot_map="tuple"),
]

# The two presets under every dispatch variant: what the unit suites' fake-server tests
# (redirects, retries, faults) run over.
PRESETS = [
    preset.replace(dispatch=dispatch)
    for preset in (Stages.baseline(), Stages.optimized())
    for dispatch in REGISTRY["dispatch"]
]

# The native variants (Cython), where `rcopt build` made them: the preset of all five (its
# routes native too) and its stages under the composed route, wherever the stage sets run;
# in the fake-server policy suites (PRESETS) the native preset as it ships only, to keep
# CI's time: the composed route over native stages is held to the stage sets' suites.
NATIVE_SETS = (
    [Stages.native().replace(dispatch=dispatch) for dispatch in ("composed", "native")]
    if native.load()
    else []
)
STAGE_SETS += NATIVE_SETS
PRESETS += NATIVE_SETS[1:]
