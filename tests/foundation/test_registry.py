"""The generic registry: decorator registration, duplicates, unknown names, descriptions."""

import pytest

from harness.errors import DuplicateComponentError, HarnessError, UnknownComponentError
from harness.registry import REGISTRIES, Registry, closest, registry


def make():
    reg: Registry = Registry("widgets", "test widgets")

    @reg.register("alpha")
    class Alpha:
        """First widget.

        More text that is not part of the one-line description."""

    @reg.register("beta", description="explicit description")
    def beta():
        """Ignored docstring."""

    return reg, Alpha, beta


def test_register_and_get_return_the_object():
    reg, alpha, beta = make()
    assert reg.get("alpha") is alpha
    assert reg.get("beta") is beta
    assert reg.names() == ["alpha", "beta"]
    assert "alpha" in reg and "gamma" not in reg
    assert len(reg) == 2


def test_descriptions_are_one_line():
    reg, *_ = make()
    assert reg.entry("alpha").description == "First widget."
    assert reg.entry("beta").description == "explicit description"


def test_duplicate_name_raises_and_keeps_the_first():
    reg, alpha, _ = make()
    with pytest.raises(DuplicateComponentError, match="'alpha' is already registered"):
        reg.register("alpha")(object())
    assert reg.get("alpha") is alpha


def test_unknown_name_is_one_line_with_closest_match_and_known_names():
    reg, *_ = make()
    with pytest.raises(UnknownComponentError) as info:
        reg.get("alpah")
    message = str(info.value)
    assert "\n" not in message
    assert "did you mean 'alpha'?" in message
    assert "known: alpha, beta" in message
    assert isinstance(info.value, HarnessError)


def test_unknown_name_without_close_match_lists_known_names_only():
    reg, *_ = make()
    with pytest.raises(UnknownComponentError) as info:
        reg.get("zzzzzz")
    assert "did you mean" not in str(info.value)
    assert "known: alpha, beta" in str(info.value)


def test_unhashable_name_is_an_unknown_name_not_a_crash():
    reg, *_ = make()
    with pytest.raises(UnknownComponentError):
        reg.get(["alpha"])


def test_closest():
    assert closest("pcgard", ["sum", "pcgrad", "agp"]) == "pcgrad"
    assert closest("q", ["sum", "pcgrad"]) is None


def test_every_kind_is_reachable_and_unknown_kind_suggests():
    for kind in REGISTRIES:
        assert registry(kind).kind == kind
    with pytest.raises(UnknownComponentError, match="did you mean 'losses'"):
        registry("loses")


def test_empty_name_is_rejected():
    reg, *_ = make()
    with pytest.raises(ValueError):
        reg.register("")(object())


def test_build_checks_coerces_and_constructs_naming_the_field():
    from harness.errors import RecipeError
    from harness.registry import COMBINERS

    agp = COMBINERS.build({"name": "agp", "stage2": "false"}, field="combiner", file="r.yaml")
    assert type(agp).__name__ == "AGP" and agp.stage2 is False
    with pytest.raises(RecipeError, match=r"^r\.yaml: combiner\.stage3: unknown option 'stage3'"):
        COMBINERS.build({"name": "agp", "stage3": True}, field="combiner", file="r.yaml")
    with pytest.raises(RecipeError, match=r"^combiner: unknown combiner 'pcgard'; did you mean 'pcgrad'"):
        COMBINERS.build("pcgard", field="combiner")
    assert COMBINERS.options("agp", field="combiner", fill=True) == {
        "anchor": "ce", "stage1": True, "stage2": True, "anchor_once": False}


def test_a_constructor_refusing_a_value_is_one_line_naming_the_field():
    from harness.errors import RecipeError
    from harness.registry import REWEIGHTINGS

    with pytest.raises(RecipeError, match=r"^reweighting: reweighting 'gradnorm': lr must be > 0$"):
        REWEIGHTINGS.build({"name": "gradnorm", "lr": -1.0}, field="reweighting")


def test_a_typed_registry_refuses_a_component_of_another_kind_and_names_its_classes():
    from harness.combine.base import Combiner
    from harness.registry import ComponentTypeError

    reg: Registry = Registry("things", "typed", base="harness.combine.base:Combiner")
    with pytest.raises(ComponentTypeError, match="'plain' .* must be a subclass of harness.combine.base.Combiner"):
        reg.register("plain")(type("Plain", (), {}))

    @reg.register("halve")
    class Halve(Combiner):
        def weights(self, gramian, names, generator):
            return [0.5] * len(names)

    assert Halve.name == "halve"  # the registry names the class


def test_a_class_whose_own_name_differs_from_its_registered_name_is_refused():
    """One source of a component's name: the registry; a second one in the class could disagree."""
    from harness.combine.base import Combiner
    from harness.registry import ComponentTypeError

    reg: Registry = Registry("things", "typed", base="harness.combine.base:Combiner")
    with pytest.raises(ComponentTypeError, match="'halve' .* declares name = 'half'"):
        reg.register("halve")(type("Halve", (Combiner,), {"name": "half"}))
