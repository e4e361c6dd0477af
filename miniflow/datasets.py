"""Data for the course: two small real sets, synthetic 2-D sets and an MNIST reader.

Nothing here downloads anything.

- ``load_digits``: 1,797 handwritten digits of 8x8 pixels (bundled).
- ``load_diabetes``: 442 patients, 10 measurements, a disease score (bundled).
- ``make_xor``, ``make_moons``, ``make_circles``, ``make_spirals``,
  ``make_blobs``: 2-D classification sets, balanced classes, rows shuffled.
- ``make_regression_1d``: a noisy sine curve, for fitting a curve.
- ``train_test_split``: a seeded split, optionally stratified by class.
- ``read_idx`` and ``load_mnist``: MNIST's IDX files, from a folder you have.

Every generator takes a ``seed`` and uses ``np.random.default_rng(seed)``:
the same seed gives the same data, a different seed different data.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "DIABETES_FEATURES",
    "load_digits",
    "load_diabetes",
    "train_test_split",
    "make_xor",
    "make_moons",
    "make_circles",
    "make_spirals",
    "make_blobs",
    "make_regression_1d",
    "read_idx",
    "load_mnist",
]

#: The diabetes columns: age, sex, body-mass index, mean blood pressure and
#: six blood serum measurements (s1..s6).
DIABETES_FEATURES: tuple[str, ...] = (
    "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
)

# The interval make_regression_1d draws x from.
_REGRESSION_INTERVAL = (-3.0, 3.0)


# --- bundled data ---------------------------------------------------------------------------


@functools.cache
def _load_bundled(name: str) -> dict[str, np.ndarray]:
    """The arrays of ``miniflow/data/<name>``, read once and kept read-only.

    The public loaders copy them, so a caller may change what it gets.
    """
    resource = resources.files("miniflow").joinpath("data").joinpath(name)
    try:
        with resource.open("rb") as file, np.load(file, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise FileNotFoundError(
            f"miniflow's bundled data file data/{name} is missing; the installation is "
            "incomplete. Reinstall miniflow (pip install -e . from the course folder)."
        ) from None
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def load_digits(
    *, normalize: bool = True, return_images: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The bundled handwritten digits: 1,797 images of 8x8 pixels, labels 0..9.

    Returns ``(X, y)``. ``X`` has one row of 64 pixels per image, or shape
    ``(1797, 8, 8)`` with ``return_images``. With ``normalize`` the pixels are
    float64 in [0, 1] (the raw 0..16 ink counts divided by 16); without, they
    are the raw uint8 counts. ``y`` is int64. Each call returns new arrays.
    """
    data = _load_bundled("digits.npz")
    if normalize:
        X = data["X"].astype(np.float64) / 16.0
    else:
        X = data["X"].astype(np.uint8)  # astype copies
    if return_images:
        X = X.reshape(-1, 8, 8)
    return X, data["y"].astype(np.int64)


def load_diabetes(*, standardize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The bundled diabetes data: 442 patients, 10 features, a disease score.

    Returns ``(X, y)``: ``X`` float64 of shape ``(442, 10)``, columns in the
    order of ``DIABETES_FEATURES``; ``y`` float64 of shape ``(442,)``, a
    measure of disease progression one year later (25..346). With
    ``standardize`` each column of ``X`` has mean 0 and standard deviation 1
    (the features have very different units); otherwise the raw values. ``y``
    is always raw. Each call returns new arrays.
    """
    data = _load_bundled("diabetes.npz")
    X = data["X"].astype(np.float64)
    if standardize:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, data["y"].astype(np.float64)


# --- splitting ------------------------------------------------------------------------------


def _round_half_up(value: float) -> int:
    return int(np.floor(value + 0.5))


def train_test_split(
    X: ArrayLike,
    y: ArrayLike,
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
    stratify: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split rows into a training and a test set: ``X_train, X_test, y_train, y_test``.

    About ``test_fraction`` of the rows (rounded, at least one) go to the test
    set, chosen at random by ``np.random.default_rng(seed)``; the same seed
    gives the same split. With ``stratify`` each class of ``y`` is split on
    its own, so every class keeps (up to rounding) its share in both sets and
    appears in both. The inputs are not modified; the outputs are new arrays
    with their rows in random order.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must be arrays with one row per sample, not scalars.")
    if len(X) != len(y):
        raise ValueError(
            f"X has {len(X)} rows but y has {len(y)}: they must match, one label per row."
        )
    if not 0 < test_fraction < 1:
        raise ValueError(
            f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}; "
            "for example 0.25 keeps a quarter of the rows for testing."
        )
    n = len(X)
    if n < 2:
        raise ValueError(f"cannot split {n} row(s) into a training and a test set; need 2.")
    rng = np.random.default_rng(seed)
    if stratify:
        if y.ndim != 1:
            raise ValueError(
                f"stratify=True needs y to be a 1-D array of class labels, got shape {y.shape}."
            )
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            rare = classes[counts < 2].tolist()
            raise ValueError(
                f"stratify=True needs at least 2 rows of every class, but class(es) {rare} "
                "have only one; drop them or split with stratify=False."
            )
        train_parts, test_parts = [], []
        for label, count in zip(classes, counts):
            rows = rng.permutation(np.flatnonzero(y == label))
            n_test = min(max(_round_half_up(test_fraction * count), 1), count - 1)
            test_parts.append(rows[:n_test])
            train_parts.append(rows[n_test:])
        # Mix the classes again, so the output is not sorted by label.
        train = rng.permutation(np.concatenate(train_parts))
        test = rng.permutation(np.concatenate(test_parts))
    else:
        n_test = min(max(_round_half_up(test_fraction * n), 1), n - 1)
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    # Fancy indexing copies: the caller's arrays stay untouched.
    return X[train], X[test], y[train], y[test]


# --- synthetic 2-D classification sets ------------------------------------------------------


def _check_n_samples(n_samples: int, minimum: int, what: str) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
        raise TypeError(f"n_samples must be an integer, got {n_samples!r}.")
    if n_samples < minimum:
        raise ValueError(
            f"n_samples must be at least {minimum} ({what}), got {n_samples}."
        )


def _check_non_negative(value: float, name: str) -> None:
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be zero or positive, got {value}.")


def _check_n_classes(n_classes: int) -> None:
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer):
        raise TypeError(f"n_classes must be an integer, got {n_classes!r}.")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2 for a classification set, got {n_classes}.")


def _balanced_counts(n_samples: int, n_groups: int) -> list[int]:
    """Split n_samples into n_groups sizes that differ by at most one."""
    base, extra = divmod(n_samples, n_groups)
    return [base + (1 if group < extra else 0) for group in range(n_groups)]


def _shuffled(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    # Generators build the data class by class; shuffle so any slice mixes classes.
    order = rng.permutation(len(y))
    return X[order].astype(np.float64), y[order].astype(np.int64)


def make_xor(
    n_samples: int = 200, *, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Points around the four corners (+-1, +-1), labelled by XOR of the signs.

    A point generated around (1, 1) or (-1, -1) has label 0, around (-1, 1)
    or (1, -1) label 1: no single line separates the classes. ``noise`` is the
    standard deviation of the Gaussian added to each coordinate (the label
    follows the corner, so a large noise can put points across the axes).
    Returns ``X`` float64 of shape ``(n_samples, 2)`` and ``y`` int64.
    """
    _check_n_samples(n_samples, 2, "one per class")
    _check_non_negative(noise, "noise")
    rng = np.random.default_rng(seed)
    # Alternating labels, so uneven corner counts still balance the classes.
    corners = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    corner_labels = np.array([0, 1, 0, 1])
    corner = np.repeat(np.arange(4), _balanced_counts(n_samples, 4))
    X = corners[corner] + noise * rng.standard_normal((n_samples, 2))
    return _shuffled(X, corner_labels[corner], rng)


def make_moons(
    n_samples: int = 200, *, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles of radius 1.

    Class 0 is the upper arc centred at (0, 0); class 1 the lower arc centred
    at (1, 0.5). Points are evenly spaced along each arc, then moved by
    Gaussian noise of standard deviation ``noise``. Returns ``X`` float64 of
    shape ``(n_samples, 2)`` and ``y`` int64.
    """
    _check_n_samples(n_samples, 2, "one per class")
    _check_non_negative(noise, "noise")
    rng = np.random.default_rng(seed)
    n_upper, n_lower = _balanced_counts(n_samples, 2)
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n_lower)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n_samples, 2))
    y = np.repeat([0, 1], [n_upper, n_lower])
    return _shuffled(X, y, rng)


def make_circles(
    n_samples: int = 200, *, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor``.

    Points are evenly spaced around each circle, then moved by Gaussian noise
    of standard deviation ``noise``. ``factor`` must be strictly between 0
    and 1. Returns ``X`` float64 of shape ``(n_samples, 2)`` and ``y`` int64.
    """
    _check_n_samples(n_samples, 2, "one per class")
    _check_non_negative(noise, "noise")
    if not 0 < factor < 1:
        raise ValueError(
            f"factor is the inner circle's radius relative to the outer one and must be "
            f"between 0 and 1 (exclusive), got {factor}."
        )
    rng = np.random.default_rng(seed)
    n_outer, n_inner = _balanced_counts(n_samples, 2)
    t_outer = np.linspace(0.0, 2 * np.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2 * np.pi, n_inner, endpoint=False)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)])
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    y = np.repeat([0, 1], [n_outer, n_inner])
    return _shuffled(X, y, rng)


def make_spirals(
    n_samples: int = 300, *, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n spiral data).

    Along each arm the radius grows from 0 to 1 while the angle turns by 4
    radians; arm ``k`` starts at angle ``4 k``. ``noise`` is the standard
    deviation of the Gaussian added to each point's *angle*. Returns ``X``
    float64 of shape ``(n_samples, 2)`` and ``y`` int64 in ``0..n_classes-1``.
    """
    _check_n_classes(n_classes)
    _check_n_samples(n_samples, n_classes, "one per class")
    _check_non_negative(noise, "noise")
    rng = np.random.default_rng(seed)
    counts = _balanced_counts(n_samples, n_classes)
    radius = np.concatenate([np.linspace(0.0, 1.0, count) for count in counts])
    angle = np.concatenate(
        [np.linspace(4.0 * k, 4.0 * (k + 1), count) for k, count in enumerate(counts)]
    )
    angle = angle + noise * rng.standard_normal(n_samples)
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    y = np.repeat(np.arange(n_classes), counts)
    return _shuffled(X, y, rng)


def make_blobs(
    n_samples: int = 300, *, n_classes: int = 3, spread: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Round Gaussian clouds, one per class, with centres evenly spaced on a circle.

    Neighbouring centres are 5 units apart, so with the default ``spread``
    (each cloud's standard deviation) of 1 the classes barely overlap; raise
    it to make them overlap. Returns ``X`` float64 of shape
    ``(n_samples, 2)`` and ``y`` int64 in ``0..n_classes-1``.
    """
    _check_n_classes(n_classes)
    _check_n_samples(n_samples, n_classes, "one per class")
    _check_non_negative(spread, "spread")
    rng = np.random.default_rng(seed)
    # A chord of 2 r sin(pi / k) = 5 between neighbouring centres.
    radius = 2.5 / np.sin(np.pi / n_classes)
    angles = np.pi / 2 + 2 * np.pi * np.arange(n_classes) / n_classes
    centres = radius * np.column_stack([np.cos(angles), np.sin(angles)])
    y = np.repeat(np.arange(n_classes), _balanced_counts(n_samples, n_classes))
    X = centres[y] + spread * rng.standard_normal((n_samples, 2))
    return _shuffled(X, y, rng)


def make_regression_1d(
    n_samples: int = 100, *, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A noisy sine curve: ``y = sin(x) + noise * N(0, 1)`` for x uniform in [-3, 3].

    A curve a straight line cannot fit, but a small network can. Returns
    ``X`` float64 of shape ``(n_samples, 1)`` (rows in random order, not
    sorted) and ``y`` float64 of shape ``(n_samples,)``.
    """
    _check_n_samples(n_samples, 1, "the set cannot be empty")
    _check_non_negative(noise, "noise")
    rng = np.random.default_rng(seed)
    low, high = _REGRESSION_INTERVAL
    x = rng.uniform(low, high, size=n_samples)
    y = np.sin(x) + noise * rng.standard_normal(n_samples)
    return x.reshape(-1, 1), y


# --- MNIST's IDX files ----------------------------------------------------------------------

# IDX type byte -> big-endian dtype of the data.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (the format of MNIST), raw or gzip-compressed.

    The file holds two zero bytes, a type byte (0x08 unsigned byte, 0x09
    signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the
    number of dimensions, each dimension as a big-endian uint32, then the
    values in big-endian order. Compression is recognised by the gzip magic
    bytes, not by the file name. Returns a new array in the machine's native
    byte order, e.g. uint8 of shape ``(60000, 28, 28)`` for MNIST's training
    images. Raises ``ValueError`` naming the file if it is not a valid IDX
    file (bad header, truncated, or trailing bytes).
    """
    path = Path(path)
    with open(path, "rb") as file:
        compressed = file.read(2) == _GZIP_MAGIC
    try:
        if compressed:
            with gzip.open(path, "rb") as file:
                content = file.read()
        else:
            content = path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(
            f"{path} looks gzip-compressed but cannot be decompressed ({error}); the file is "
            "probably truncated or damaged: get a fresh copy."
        ) from None

    if len(content) < 4:
        raise ValueError(
            f"{path} is not an IDX file: it has only {len(content)} bytes, fewer than the "
            "4-byte header."
        )
    if content[0] != 0 or content[1] != 0 or content[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file: its magic number is {content[:4].hex(' ')}, but an "
            "IDX file starts with 00 00, a type byte (08, 09, 0b, 0c, 0d or 0e) and the "
            "number of dimensions. Is it the right file, and fully downloaded?"
        )
    dtype = np.dtype(_IDX_DTYPES[content[2]])
    ndim = content[3]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(
            f"{path} is truncated: its header announces {ndim} dimensions but the file ends "
            f"after {len(content)} bytes, before the header does ({header_size} bytes)."
        )
    shape = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    n_values = int(np.prod(shape, dtype=np.int64))
    expected = n_values * dtype.itemsize
    found = len(content) - header_size
    if found < expected:
        raise ValueError(
            f"{path} is truncated: its header announces shape {shape} ({expected} bytes of "
            f"data) but only {found} bytes follow. Get a complete copy of the file."
        )
    if found > expected:
        raise ValueError(
            f"{path} is not a valid IDX file: its header announces shape {shape} "
            f"({expected} bytes of data) but {found} bytes follow."
        )
    data = np.frombuffer(content, dtype=dtype, count=n_values, offset=header_size)
    # astype copies into native byte order and a writable array.
    return data.astype(dtype.newbyteorder("=")).reshape(shape)


_MNIST_PREFIXES = {"train": "train", "test": "t10k", "t10k": "t10k"}


def _mnist_candidates(prefix: str, part: str, idx: str) -> list[str]:
    """The usual names of one MNIST file, e.g. train-images-idx3-ubyte(.gz)."""
    names = [f"{prefix}-{part}-{idx}-ubyte", f"{prefix}-{part}.{idx}-ubyte"]
    return names + [name + ".gz" for name in names]


def _find_mnist_file(folder: Path, candidates: list[str]) -> Path | None:
    for name in candidates:
        if (folder / name).is_file():
            return folder / name
    return None


def load_mnist(
    path: str | os.PathLike[str], kind: str = "train", *, normalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST (or a set in the same format) from a folder you already have.

    miniflow never downloads anything: get the MNIST files yourself and pass
    the folder holding them. ``kind`` is ``"train"`` (60,000 images) or
    ``"test"`` (10,000; ``"t10k"`` works too). The files are looked up under
    their usual names, ``train-images-idx3-ubyte`` and
    ``train-labels-idx1-ubyte`` (``t10k-...`` for the test set), also with
    ``.gz`` and in the ``train-images.idx3-ubyte`` spelling.

    Returns ``(X, y)``: ``X`` with one row of 784 pixels per image, float32
    in [0, 1] with ``normalize`` or the raw uint8 values without; ``y`` int64.
    """
    prefix = _MNIST_PREFIXES.get(kind)
    if prefix is None:
        raise ValueError(f'kind must be "train" or "test" (or "t10k"), got {kind!r}.')
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} is not a folder. miniflow never downloads data: get MNIST yourself "
            "and pass the folder that holds its files to load_mnist."
        )
    image_names = _mnist_candidates(prefix, "images", "idx3")
    label_names = _mnist_candidates(prefix, "labels", "idx1")
    image_file = _find_mnist_file(folder, image_names)
    label_file = _find_mnist_file(folder, label_names)
    missing = [names for names, found in ((image_names, image_file), (label_names, label_file))
               if found is None]
    if missing:
        looked_for = ", ".join(name for names in missing for name in names)
        raise FileNotFoundError(
            f"no MNIST {kind} files in {folder}: looked for {looked_for}. miniflow never "
            "downloads data: get MNIST yourself and pass the folder that holds its files."
        )

    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{image_file} should hold uint8 images of shape (n, rows, columns), but holds "
            f"{images.dtype} values of shape {images.shape}. Is it an images file?"
        )
    if labels.ndim != 1:
        raise ValueError(
            f"{label_file} should hold one label per image (shape (n,)), but has shape "
            f"{labels.shape}. Is it a labels file?"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{image_file.name} holds {len(images)} images but {label_file.name} holds "
            f"{len(labels)} labels; they must come from the same set (do not mix train and "
            "t10k files, and check that neither is an incomplete download)."
        )
    X = images.reshape(len(images), -1)
    X = X.astype(np.float32) / np.float32(255.0) if normalize else X
    return X, labels.astype(np.int64)
