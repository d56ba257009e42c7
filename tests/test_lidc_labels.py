import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drai.data.lidc.labels import (
    BINARY_CUTS,
    CHARACTERISTICS,
    VECTOR_DIM,
    VECTOR_NAMES,
    binarize,
    case_index,
    conditioning_vector,
    extract_nodules,
    size_bin,
)

half_steps = st.integers(2, 12).map(lambda k: k / 2)  # medians 1.0, 1.5, ... 6.0


def test_vector_has_seventeen_named_dimensions():
    assert VECTOR_DIM == 17
    assert len(VECTOR_NAMES) == 17


@pytest.mark.parametrize(
    "name, median, expected",
    [
        ("malignancy", 2.5, 0),
        ("malignancy", 3.0, 0),
        ("malignancy", 3.5, 1),
        ("malignancy", 4.0, 1),
        ("calcification", 5.0, 0),
        ("calcification", 5.5, 1),
        ("calcification", 6.0, 1),
        ("texture", 3.0, 0),
        ("texture", 4.0, 1),
        ("subtlety", 1.0, 0),
        ("subtlety", 5.0, 1),
    ],
)
def test_binarize_boundaries(name, median, expected):
    assert binarize(name, median) == expected


@given(st.sampled_from(CHARACTERISTICS), half_steps)
def test_binarize_is_a_threshold(name, median):
    assert binarize(name, median) == (median > BINARY_CUTS[name])


@pytest.mark.parametrize(
    "size, expected",
    [
        (0.0, 0),
        (1.9, 0),
        (2.0, 0),
        (3.999, 0),
        (4.0, 1),
        (5.99, 1),
        (6.0, 2),
        (8.0, 3),
        (9.99, 3),
        (10.0, 4),
        (12.0, 4),
        (35.0, 4),
    ],
)
def test_size_bin_boundaries(size, expected):
    assert size_bin(size) == expected


@given(st.floats(0, 100, allow_nan=False), st.floats(0, 100, allow_nan=False))
def test_size_bin_is_monotonic(a, b):
    if a <= b:
        assert size_bin(a) <= size_bin(b)


@given(st.fixed_dictionaries({n: half_steps for n in CHARACTERISTICS}), st.floats(0, 60))
def test_vector_is_one_hot_per_group(medians, size):
    vector = conditioning_vector(medians, size)
    assert vector.shape == (17,)
    groups = [vector[2 * i : 2 * i + 2] for i in range(6)] + [vector[12:]]
    assert all(g.sum() == 1 for g in groups)
    assert vector[12 + size_bin(size)] == 1
    for i, name in enumerate(CHARACTERISTICS):
        assert vector[2 * i + binarize(name, medians[name])] == 1


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="lobulation"):
        binarize("lobulation", 3)
    with pytest.raises(ValueError, match="size"):
        size_bin(-1.0)
    with pytest.raises(ValueError, match="not an LIDC-IDRI patient id"):
        case_index("patient7")
    assert case_index("LIDC-IDRI-0899") == 899


@pytest.fixture(scope="module")
def some_nodules(ci_config):
    from drai.data.lidc.settings import label_settings

    # scan ids 1-30 hold cases on both sides of the 899 split
    return extract_nodules(label_settings(ci_config), scan_ids=list(range(1, 31)), progress=False)


def test_nodule_table_rules(some_nodules):
    table = some_nodules
    assert (table.n_annotations >= 3).all()
    assert ((table.case_index < 899) == (table.split == "train")).all()
    assert (table.curated == (table.median_malignancy != 3)).all()
    assert (table["query"] == ((table.split == "test") & (table.median_malignancy == 3))).all()
    vectors = table[[f"t{i:02d}" for i in range(17)]].to_numpy()
    assert (vectors.sum(axis=1) == 7).all()
    assert (vectors[np.arange(len(table)), 12 + table.size_bin.to_numpy()] == 1).all()
    assert table.nodule_id.is_unique
    assert (table.size_mm > 0).all()


def test_z_extent_holds_the_centroid_and_spans_the_mask_slices(some_nodules):
    table = some_nodules
    assert (table.z_min_mm <= table.center_z_mm + 1e-6).all() and (table.center_z_mm <= table.z_max_mm + 1e-6).all()
    # The extent covers as many slices as the consensus mask has (at least one), in slice spacings.
    slices = (table.z_max_mm - table.z_min_mm) / table.slice_spacing_mm + 1
    assert (slices >= 1 - 1e-6).all() and (slices > 2).any()


def test_min_annotations_is_applied(ci_config):
    from dataclasses import replace

    from drai.data.lidc.settings import label_settings

    loose = extract_nodules(replace(label_settings(ci_config), min_annotations=1), scan_ids=[1, 2, 3], progress=False)
    strict = extract_nodules(replace(label_settings(ci_config), min_annotations=4), scan_ids=[1, 2, 3], progress=False)
    assert len(loose) > len(strict)
    assert (strict.n_annotations >= 4).all()
