"""miniflow.datasets: the bundled data, the split, the synthetic sets and the IDX reader."""

from __future__ import annotations

import gzip
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from miniflow import datasets
from miniflow.datasets import (
    DIABETES_FEATURES,
    load_diabetes,
    load_digits,
    load_mnist,
    make_blobs,
    make_circles,
    make_moons,
    make_regression_1d,
    make_spirals,
    make_xor,
    read_idx,
    train_test_split,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "miniflow" / "data"


def _npz(name: str) -> dict[str, np.ndarray]:
    with np.load(DATA / name, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


# --- digits ---------------------------------------------------------------------------------


def test_digits_normalized_shapes_dtypes_and_range():
    X, y = load_digits()
    assert (X.shape, X.dtype) == ((1797, 64), np.float64), f"X is {X.dtype} {X.shape}"
    assert (y.shape, y.dtype) == ((1797,), np.int64), f"y is {y.dtype} {y.shape}"
    assert X.min() == 0.0 and X.max() == 1.0, f"X spans [{X.min()}, {X.max()}], not [0, 1]"
    assert sorted(set(y.tolist())) == list(range(10))


def test_digits_every_class_is_well_represented():
    _, y = load_digits()
    counts = np.bincount(y, minlength=10)
    assert len(counts) == 10, f"labels beyond 9: {counts}"
    assert counts.min() >= 170, f"class counts {counts.tolist()}"
    assert counts.sum() == len(y)


def test_digits_raw_values_are_the_files_and_normalize_divides_by_16():
    raw, y_raw = load_digits(normalize=False)
    stored = _npz("digits.npz")
    assert raw.dtype == np.uint8, f"raw pixels are {raw.dtype}, expected uint8"
    np.testing.assert_array_equal(raw, stored["X"])
    np.testing.assert_array_equal(y_raw, stored["y"])
    assert raw.min() == 0 and raw.max() == 16
    X, y = load_digits(normalize=True)
    np.testing.assert_array_equal(X * 16, raw.astype(np.float64))
    np.testing.assert_array_equal(y, y_raw)


@pytest.mark.parametrize("normalize", [True, False])
def test_digits_as_images(normalize):
    images, y = load_digits(normalize=normalize, return_images=True)
    flat, _ = load_digits(normalize=normalize)
    assert images.shape == (1797, 8, 8), f"images have shape {images.shape}"
    assert images.dtype == flat.dtype
    np.testing.assert_array_equal(images.reshape(1797, 64), flat)
    # Row-major: pixel (r, c) of the image is column 8 r + c of the flat row.
    assert images[5, 2, 3] == flat[5, 8 * 2 + 3]
    assert y.shape == (1797,)


@pytest.mark.parametrize("options", [{}, {"normalize": False}, {"return_images": True}])
def test_digits_returns_fresh_arrays(options):
    X, y = load_digits(**options)
    X_before, y_before = X.copy(), y.copy()
    X[...] = 7
    y[...] = 3
    X_again, y_again = load_digits(**options)
    np.testing.assert_array_equal(X_again, X_before)
    np.testing.assert_array_equal(y_again, y_before)
    assert not np.shares_memory(X, X_again) and not np.shares_memory(y, y_again)


# --- diabetes -------------------------------------------------------------------------------


def test_diabetes_shapes_and_dtypes():
    for standardize in (True, False):
        X, y = load_diabetes(standardize=standardize)
        assert (X.shape, X.dtype) == ((442, 10), np.float64), f"X is {X.dtype} {X.shape}"
        assert (y.shape, y.dtype) == ((442,), np.float64), f"y is {y.dtype} {y.shape}"


def test_diabetes_standardized_columns_have_mean_0_and_std_1():
    X, _ = load_diabetes()
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1.0, rtol=1e-12)
    raw, _ = load_diabetes(standardize=False)
    np.testing.assert_allclose(X, (raw - raw.mean(axis=0)) / raw.std(axis=0), rtol=1e-12)


def test_diabetes_raw_values_and_target_are_the_files():
    stored = _npz("diabetes.npz")
    raw, y_raw = load_diabetes(standardize=False)
    np.testing.assert_array_equal(raw, stored["X"])
    np.testing.assert_array_equal(y_raw, stored["y"])
    _, y = load_diabetes(standardize=True)
    np.testing.assert_array_equal(y, stored["y"], err_msg="standardize changed the target")


def test_diabetes_feature_names_match_the_file():
    stored = [str(name) for name in _npz("diabetes.npz")["feature_names"]]
    assert list(DIABETES_FEATURES) == stored
    assert isinstance(DIABETES_FEATURES, tuple)
    assert len(DIABETES_FEATURES) == load_diabetes()[0].shape[1]


def test_diabetes_returns_fresh_arrays():
    X, y = load_diabetes(standardize=False)
    X_before, y_before = X.copy(), y.copy()
    X[:] = 0.0
    y[:] = 0.0
    X_again, y_again = load_diabetes(standardize=False)
    np.testing.assert_array_equal(X_again, X_before)
    np.testing.assert_array_equal(y_again, y_before)


def test_loading_needs_numpy_only_and_works_from_any_folder(tmp_path):
    """The data is found through the package, not the working directory."""
    program = (
        "import sys\n"
        "from miniflow import datasets\n"
        "X, y = datasets.load_digits()\n"
        "Xd, yd = datasets.load_diabetes()\n"
        "heavy = {'matplotlib', 'scipy', 'sklearn', 'pandas', 'IPython', 'nbformat'}\n"
        "print(X.shape, Xd.shape, sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1797, 64) (442, 10) []", result.stdout


# --- train_test_split -----------------------------------------------------------------------


def _rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows that carry their own index, and labels that follow the rows."""
    X = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    return X, np.arange(n) % 3


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 80), test_fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**32),
       stratify=st.booleans())
def test_split_is_a_partition_that_keeps_rows_and_labels_together(n, test_fraction, seed,
                                                                   stratify):
    X, y = _rows(n)
    assume(not stratify or n >= 6)  # stratify needs 2 rows of every class
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_fraction=test_fraction, seed=seed, stratify=stratify)
    assert len(X_train) == len(y_train) and len(X_test) == len(y_test)
    assert len(X_train) >= 1 and len(X_test) >= 1
    ids = np.concatenate([X_train[:, 0], X_test[:, 0]]) // 2
    np.testing.assert_array_equal(np.sort(ids), np.arange(n))  # disjoint and covering
    np.testing.assert_array_equal(y_train, (X_train[:, 0] // 2).astype(int) % 3)
    np.testing.assert_array_equal(y_test, (X_test[:, 0] // 2).astype(int) % 3)
    if not stratify:
        expected = min(max(int(np.floor(test_fraction * n + 0.5)), 1), n - 1)
        assert len(X_test) == expected, f"{len(X_test)} test rows of {n} at {test_fraction}"


def test_split_default_keeps_a_quarter_for_testing():
    X, y = _rows(100)
    X_train, X_test, _, _ = train_test_split(X, y)
    assert (len(X_train), len(X_test)) == (75, 25)


def test_split_is_deterministic_for_a_seed_and_varies_with_it():
    X, y = _rows(50)
    first = train_test_split(X, y, seed=3)
    again = train_test_split(X, y, seed=3)
    other = train_test_split(X, y, seed=4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1]), "seeds 3 and 4 gave the same test set"


def test_split_shuffles_rows():
    X, y = _rows(200)
    X_train, _, _, _ = train_test_split(X, y, seed=0)
    assert not np.all(np.diff(X_train[:, 0]) > 0), "training rows kept their original order"


def test_stratified_split_keeps_each_class_share():
    X, y = load_digits()
    _, _, y_train, y_test = train_test_split(X, y, test_fraction=0.25, stratify=True)
    counts = np.bincount(y, minlength=10)
    test_counts = np.bincount(y_test, minlength=10)
    train_counts = np.bincount(y_train, minlength=10)
    np.testing.assert_array_equal(test_counts + train_counts, counts)
    # Rounded per class: never more than half a row away from the exact share.
    assert np.all(np.abs(test_counts - 0.25 * counts) <= 0.5), test_counts.tolist()


def test_stratified_split_keeps_a_rare_class_in_both_sets():
    # 10% of 3 rows rounds to none; the class still gets one test row.
    y = np.array([0] * 97 + [1] * 3)
    X = np.arange(100.0).reshape(100, 1)
    for seed in range(5):
        _, _, y_train, y_test = train_test_split(X, y, test_fraction=0.1, seed=seed,
                                                 stratify=True)
        assert np.bincount(y_test).tolist() == [10, 1], f"seed {seed}: {np.bincount(y_test)}"
        assert np.bincount(y_train).tolist() == [87, 2], f"seed {seed}: {np.bincount(y_train)}"


def test_stratified_split_mixes_classes_in_its_output():
    X, y = load_digits()
    _, _, y_train, _ = train_test_split(X, y, stratify=True)
    assert np.any(np.diff(y_train) < 0), "stratified output is sorted by class"


def test_split_does_not_modify_or_share_its_inputs():
    X, y = _rows(40)
    X_before, y_before = X.copy(), y.copy()
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=True)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    X_train[...] = -1
    y_test[...] = -1
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


def test_split_accepts_lists():
    X_train, X_test, y_train, y_test = train_test_split([[1], [2], [3], [4]], [0, 1, 0, 1])
    assert isinstance(X_train, np.ndarray) and (len(X_train), len(X_test)) == (3, 1)


@pytest.mark.parametrize("test_fraction", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_split_rejects_a_fraction_outside_0_1(test_fraction):
    X, y = _rows(10)
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        train_test_split(X, y, test_fraction=test_fraction)


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="X has 10 rows but y has 9"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))


def test_split_rejects_too_few_rows():
    with pytest.raises(ValueError, match="cannot split 1 row"):
        train_test_split(np.zeros((1, 2)), np.zeros(1))


def test_stratified_split_rejects_a_class_with_one_row():
    y = np.array([0, 0, 0, 1, 1, 1, 2])
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have only one"):
        train_test_split(np.zeros((7, 1)), y, stratify=True)


def test_stratified_split_needs_1d_labels():
    with pytest.raises(ValueError, match="1-D array of class labels"):
        train_test_split(np.zeros((6, 1)), np.eye(6), stratify=True)


# --- synthetic classification sets ----------------------------------------------------------

GENERATORS = {
    "xor": (make_xor, 2),
    "moons": (make_moons, 2),
    "circles": (make_circles, 2),
    "spirals": (make_spirals, 3),
    "blobs": (make_blobs, 3),
}


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n_samples", [None, 7, 50, 301])
def test_synthetic_shapes_dtypes_and_balance(name, n_samples):
    make, n_classes = GENERATORS[name]
    X, y = make() if n_samples is None else make(n_samples)
    n = len(y)
    if n_samples is not None:
        assert n == n_samples
    assert (X.shape, X.dtype) == ((n, 2), np.float64), f"{name}: X is {X.dtype} {X.shape}"
    assert (y.shape, y.dtype) == ((n,), np.int64), f"{name}: y is {y.dtype} {y.shape}"
    assert np.all(np.isfinite(X))
    counts = np.bincount(y)
    assert len(counts) == n_classes, f"{name}: labels {sorted(set(y.tolist()))}"
    assert counts.max() - counts.min() <= 1, f"{name}: unbalanced classes {counts.tolist()}"


@pytest.mark.parametrize("name", GENERATORS)
def test_synthetic_sets_are_deterministic_per_seed(name):
    make, _ = GENERATORS[name]
    X1, y1 = make(seed=5)
    X2, y2 = make(seed=5)
    X3, y3 = make(seed=6)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3), f"{name}: seeds 5 and 6 gave the same points"


@pytest.mark.parametrize("name", GENERATORS)
def test_synthetic_rows_are_shuffled(name):
    make, _ = GENERATORS[name]
    _, y = make()
    assert np.any(np.diff(y) < 0), f"{name}: rows are sorted by class"


def test_xor_labels_follow_the_sign_rule_without_noise():
    X, y = make_xor(101, noise=0.0)
    np.testing.assert_array_equal(np.abs(X), 1.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    assert len(np.unique(X, axis=0)) == 4, "not all four corners are used"


def test_xor_noise_is_the_standard_deviation_around_the_corners():
    X, _ = make_xor(4000, noise=0.3)
    offsets = X - np.sign(X)
    assert abs(offsets.std() - 0.3) < 0.02, f"spread {offsets.std():.3f}, expected 0.3"


def test_moons_without_noise_lie_on_their_arcs():
    X, y = make_moons(60, noise=0.0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert upper[:, 1].min() >= -1e-12 and lower[:, 1].max() <= 0.5 + 1e-12


@pytest.mark.parametrize("factor", [0.2, 0.5, 0.9])
def test_circles_without_noise_have_radius_1_and_factor(factor):
    X, y = make_circles(40, noise=0.0, factor=factor)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], factor)


def test_spirals_without_noise_are_one_arm_rotated():
    X, y = make_spirals(300, n_classes=3, noise=0.0)
    assert np.hypot(X[:, 0], X[:, 1]).max() <= 1.0 + 1e-12
    # Arm k is arm 0 turned by 4 k radians; sort each arm by radius to pair points.
    arms = [X[y == k][np.argsort(np.hypot(*X[y == k].T))] for k in range(3)]
    for k in (1, 2):
        a = 4.0 * k
        rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        np.testing.assert_allclose(arms[0] @ rotation, arms[k], atol=1e-12)


@pytest.mark.parametrize("make", [make_spirals, make_blobs])
def test_number_of_classes_is_an_option(make):
    X, y = make(50, n_classes=5)
    assert X.shape == (50, 2)
    assert np.bincount(y).tolist() == [10] * 5


def test_blobs_are_separate_clouds_of_the_given_spread():
    X, y = make_blobs(3000, n_classes=4, spread=0.5)
    means = np.array([X[y == k].mean(axis=0) for k in range(4)])
    distances = np.hypot(*(means[:, None, :] - means[None, :, :]).transpose(2, 0, 1))
    assert distances[~np.eye(4, dtype=bool)].min() > 4.0, f"centres too close:\n{distances}"
    for k in range(4):
        spread = (X[y == k] - means[k]).std()
        assert abs(spread - 0.5) < 0.05, f"class {k} spread {spread:.3f}, expected 0.5"


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (make_xor, {"n_samples": 1}, "n_samples must be at least 2"),
        (make_moons, {"n_samples": 0}, "n_samples must be at least 2"),
        (make_circles, {"n_samples": 1}, "n_samples must be at least 2"),
        (make_spirals, {"n_samples": 2, "n_classes": 3}, "n_samples must be at least 3"),
        (make_blobs, {"n_samples": 4, "n_classes": 5}, "n_samples must be at least 5"),
        (make_spirals, {"n_classes": 1}, "n_classes must be at least 2"),
        (make_blobs, {"n_classes": 0}, "n_classes must be at least 2"),
        (make_xor, {"noise": -0.1}, "noise must be zero or positive"),
        (make_moons, {"noise": float("nan")}, "noise must be zero or positive"),
        (make_spirals, {"noise": -1.0}, "noise must be zero or positive"),
        (make_blobs, {"spread": -1.0}, "spread must be zero or positive"),
        (make_circles, {"factor": 1.0}, "factor .* between 0 and 1"),
        (make_circles, {"factor": 0.0}, "factor .* between 0 and 1"),
        (make_regression_1d, {"n_samples": 0}, "n_samples must be at least 1"),
        (make_regression_1d, {"noise": -0.5}, "noise must be zero or positive"),
    ],
)
def test_synthetic_sets_reject_bad_options(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


def test_n_samples_must_be_an_integer():
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        make_moons(100.0)


# --- regression -----------------------------------------------------------------------------


def test_regression_1d_shapes_interval_and_curve():
    X, y = make_regression_1d(500, noise=0.0)
    assert (X.shape, X.dtype) == ((500, 1), np.float64), f"X is {X.dtype} {X.shape}"
    assert (y.shape, y.dtype) == ((500,), np.float64), f"y is {y.dtype} {y.shape}"
    assert X.min() >= -3.0 and X.max() <= 3.0
    assert X.max() - X.min() > 5.5, "x does not cover its interval"
    np.testing.assert_allclose(y, np.sin(X[:, 0]))


def test_regression_1d_noise_is_gaussian_with_the_given_std():
    X, y = make_regression_1d(5000, noise=0.2, seed=1)
    residual = y - np.sin(X[:, 0])
    assert abs(residual.mean()) < 0.02 and abs(residual.std() - 0.2) < 0.02


def test_regression_1d_is_deterministic_per_seed():
    first, again, other = make_regression_1d(seed=2), make_regression_1d(seed=2), \
        make_regression_1d(seed=3)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert first[0].shape == (100, 1)
    assert not np.array_equal(first[0], other[0])


# --- IDX files and MNIST --------------------------------------------------------------------

IDX_TYPES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
             np.float32: 0x0D, np.float64: 0x0E}


def _idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes, written independently of the reader under test."""
    dtype = np.dtype(array.dtype)
    header = bytes([0, 0, IDX_TYPES[dtype.type], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(dtype.newbyteorder(">")).tobytes()


def _write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> Path:
    data = _idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _random_array(dtype: type, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype) * 1e3


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("dtype", list(IDX_TYPES), ids=lambda t: np.dtype(t).name)
def test_read_idx_round_trips_every_type(tmp_path, dtype, compress):
    array = _random_array(dtype, (3, 4, 5))
    got = read_idx(_write_idx(tmp_path / "data.idx", array, compress=compress))
    assert got.dtype == np.dtype(dtype), f"read {got.dtype}, wrote {np.dtype(dtype)}"
    assert got.dtype.isnative, "the result is not in native byte order"
    assert got.shape == array.shape
    np.testing.assert_array_equal(got, array)
    got[...] = 0  # writable: the caller owns the result


@pytest.mark.parametrize("shape", [(0,), (7,), (2, 3), (1, 2, 3, 2), ()])
def test_read_idx_any_number_of_dimensions(tmp_path, shape):
    array = _random_array(np.int16, shape, seed=1)
    np.testing.assert_array_equal(read_idx(_write_idx(tmp_path / "a", array)), array)
    assert read_idx(tmp_path / "a").shape == shape


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    array = _random_array(np.uint8, (4, 6), seed=2)
    hidden_gzip = _write_idx(tmp_path / "looks-raw-idx1-ubyte", array, compress=True)
    raw_named_gz = _write_idx(tmp_path / "looks-compressed.gz", array, compress=False)
    np.testing.assert_array_equal(read_idx(hidden_gzip), array)
    np.testing.assert_array_equal(read_idx(str(raw_named_gz)), array)


def test_read_idx_rejects_a_bad_magic_number_naming_the_file(tmp_path):
    bad = tmp_path / "not-idx.bin"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(ValueError, match=r"not-idx\.bin is not an IDX file: its magic number"):
        read_idx(bad)
    wrong_type = tmp_path / "wrong-type"
    wrong_type.write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(ValueError, match="wrong-type is not an IDX file"):
        read_idx(wrong_type)
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="tiny is not an IDX file: it has only 2 bytes"):
        read_idx(tiny)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_rejects_truncated_data(tmp_path, compress):
    data = _idx_bytes(_random_array(np.int32, (10, 3)))[:-1]
    path = tmp_path / "cut-short"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match=r"cut-short is truncated: .* \(120 bytes .* only 119"):
        read_idx(path)


def test_read_idx_rejects_a_truncated_header(tmp_path):
    path = tmp_path / "half-header"
    path.write_bytes(bytes([0, 0, 0x08, 3, 0, 0, 0, 2]))
    with pytest.raises(ValueError, match="half-header is truncated: its header announces 3"):
        read_idx(path)


def test_read_idx_rejects_a_damaged_gzip_file(tmp_path):
    compressed = gzip.compress(_idx_bytes(_random_array(np.uint8, (50, 50))))
    path = tmp_path / "broken.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match=r"broken\.gz .* cannot be decompressed"):
        read_idx(path)


def test_read_idx_rejects_trailing_bytes(tmp_path):
    path = tmp_path / "too-long"
    path.write_bytes(_idx_bytes(_random_array(np.uint8, (4,))) + b"\x00")
    with pytest.raises(ValueError, match="too-long is not a valid IDX file"):
        read_idx(path)


def _fake_mnist(folder: Path, prefix: str, n: int, *, seed: int, style: str = "dash",
                compress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Write a small MNIST-format pair of files; return the images and labels."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, size=(n, 28, 28), endpoint=True, dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 9, size=n, endpoint=True, dtype=np.uint8)
    sep = "-" if style == "dash" else "."
    suffix = ".gz" if compress else ""
    _write_idx(folder / f"{prefix}-images{sep}idx3-ubyte{suffix}", images, compress=compress)
    _write_idx(folder / f"{prefix}-labels{sep}idx1-ubyte{suffix}", labels, compress=compress)
    return images, labels


@pytest.mark.parametrize(("style", "compress"),
                         [("dash", False), ("dash", True), ("dot", False), ("dot", True)])
def test_load_mnist_reads_the_usual_file_names(tmp_path, style, compress):
    images, labels = _fake_mnist(tmp_path, "train", 12, seed=0, style=style, compress=compress)
    X, y = load_mnist(tmp_path)
    assert (X.shape, X.dtype) == ((12, 784), np.float32), f"X is {X.dtype} {X.shape}"
    assert (y.shape, y.dtype) == ((12,), np.int64), f"y is {y.dtype} {y.shape}"
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_allclose(X, images.reshape(12, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)


def test_load_mnist_raw_pixels(tmp_path):
    images, _ = _fake_mnist(tmp_path, "train", 5, seed=1)
    X, _ = load_mnist(str(tmp_path), normalize=False)
    assert X.dtype == np.uint8
    np.testing.assert_array_equal(X, images.reshape(5, 784))


def test_load_mnist_test_set_and_its_t10k_alias(tmp_path):
    _, train_labels = _fake_mnist(tmp_path, "train", 9, seed=2)
    test_images, test_labels = _fake_mnist(tmp_path, "t10k", 4, seed=3)
    for kind in ("test", "t10k"):
        X, y = load_mnist(tmp_path, kind, normalize=False)
        np.testing.assert_array_equal(X, test_images.reshape(4, 784))
        np.testing.assert_array_equal(y, test_labels)
    assert len(load_mnist(tmp_path, "train")[1]) == len(train_labels)


def test_load_mnist_rejects_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match='kind must be "train" or "test"'):
        load_mnist(tmp_path, "validation")


def test_load_mnist_missing_files_say_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        load_mnist(tmp_path, "test")
    message = str(caught.value)
    for name in ("t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz",
                 "t10k-images.idx3-ubyte", "t10k-labels-idx1-ubyte",
                 "t10k-labels-idx1-ubyte.gz", "t10k-labels.idx1-ubyte"):
        assert name in message, f"{name} not in: {message}"
    assert str(tmp_path) in message
    assert "never downloads" in message and "get MNIST yourself" in message


def test_load_mnist_names_only_the_missing_file(tmp_path):
    _fake_mnist(tmp_path, "train", 3, seed=4)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte") as caught:
        load_mnist(tmp_path)
    assert "images" not in str(caught.value)


def test_load_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder. miniflow never downloads"):
        load_mnist(tmp_path / "nowhere")


def test_load_mnist_rejects_mismatched_counts(tmp_path):
    _fake_mnist(tmp_path, "train", 6, seed=5)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="holds 6 images but train-labels-idx1-ubyte holds 5"):
        load_mnist(tmp_path)


def test_load_mnist_rejects_swapped_files(tmp_path):
    images, labels = _fake_mnist(tmp_path, "train", 3, seed=6)
    _write_idx(tmp_path / "train-images-idx3-ubyte", labels)
    with pytest.raises(ValueError, match="should hold uint8 images of shape"):
        load_mnist(tmp_path)


def test_every_public_function_is_exported_and_documented():
    defined = {name for name, value in vars(datasets).items()
               if inspect.isfunction(value) and value.__module__ == datasets.__name__
               and not name.startswith("_")}
    assert defined | {"DIABETES_FEATURES"} == set(datasets.__all__), (
        f"__all__ and the module disagree: {sorted(defined ^ set(datasets.__all__))}")
    undocumented = [name for name in defined if not inspect.getdoc(getattr(datasets, name))]
    assert not undocumented, f"public functions without a docstring: {undocumented}"
