"""Fix error model: the true position is a circular Gaussian around the fix whose 68% radius is
accuracy_m (Android's meaning; sigma = accuracy_m / 1.5096). A missing or invalid accuracy takes
DEFAULT_ACCURACY_M of the fix's source (gps 25, fused 40, wifi 75, cell and unknown 1500 m),
pessimistic on purpose so that a fix of unknown quality is never strong evidence of presence."""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]

# CONTRACT §2: accuracy_m is the horizontal radius at about 68% confidence (Android's meaning).
ACCURACY_CONFIDENCE = 0.68
# For a circular bivariate normal with per-axis sigma, P(r <= a) = 1 - exp(-a^2 / (2 sigma^2)),
# so the 68% radius is a = sigma * sqrt(-2 ln 0.32) = 1.5096 sigma.
SIGMA_PER_ACCURACY = 1.0 / math.sqrt(-2.0 * math.log(1.0 - ACCURACY_CONFIDENCE))


class LocationSource(StrEnum):
    """How a device positioned a fix (CONTRACT §2 pings.csv source; empty: unknown)."""

    GPS = "gps"
    WIFI = "wifi"
    CELL = "cell"
    FUSED = "fused"


# A fix with no source, or one not in LocationSource (matched case-insensitively).
UNKNOWN = "unknown"

# Conservative 68% radii (metres) used when accuracy_m is missing, zero, negative or not finite.
# Each is at the pessimistic end of what the source typically reports, so a fix of unknown quality
# never counts as strong evidence of presence; "unknown" (no or unrecognised source) is as bad as a
# cell-tower fix.
DEFAULT_ACCURACY_M: dict[str, float] = {
    LocationSource.GPS.value: 25.0,
    LocationSource.FUSED.value: 40.0,
    LocationSource.WIFI.value: 75.0,
    LocationSource.CELL.value: 1500.0,
    UNKNOWN: 1500.0,
}
SOURCES: tuple[str, ...] = (*(s.value for s in LocationSource), UNKNOWN)
UNKNOWN_SOURCE = SOURCES.index(UNKNOWN)


def source_codes(source: pl.Series | None, n: int) -> npt.NDArray[np.int8]:
    """Codes into SOURCES for a Utf8 ``source`` column of length ``n`` (None: all unknown).

    Matching is case-insensitive after trimming; null or unrecognised values are "unknown".
    """
    if source is None:
        return np.full(n, UNKNOWN_SOURCE, dtype=np.int8)
    mapping = {name: i for i, name in enumerate(SOURCES)}
    text = source.cast(pl.Utf8)
    # Fast path: exact lower-case values; only the rest are trimmed and lower-cased.
    codes = text.replace_strict(mapping, default=None, return_dtype=pl.Int8)
    odd = codes.is_null() & text.is_not_null()
    if odd.any():
        cleaned = text.filter(odd).str.strip_chars().str.to_lowercase()
        fixed = cleaned.replace_strict(mapping, default=UNKNOWN_SOURCE, return_dtype=pl.Int8)
        codes = codes.scatter(np.flatnonzero(odd.to_numpy()), fixed)
    return codes.fill_null(UNKNOWN_SOURCE).to_numpy().astype(np.int8, copy=False)


def effective_accuracy_m(accuracy_m: FloatArray, source_code: npt.NDArray[np.int8]) -> FloatArray:
    """The 68% radius in metres to use for each fix.

    ``accuracy_m`` with NaN for missing; values that are NaN, infinite, zero or negative are
    replaced by DEFAULT_ACCURACY_M of the fix's source (``source_code`` indexes SOURCES).
    """
    defaults = np.array([DEFAULT_ACCURACY_M[s] for s in SOURCES], dtype=np.float64)
    good = np.isfinite(accuracy_m) & (accuracy_m > 0.0)
    return np.where(good, accuracy_m, defaults[source_code])


def sigma_m(accuracy_m: FloatArray) -> FloatArray:
    """Per-axis standard deviation (metres) of the Gaussian whose 68% radius is ``accuracy_m``."""
    return accuracy_m * SIGMA_PER_ACCURACY


def normal_cdf(x: FloatArray) -> FloatArray:
    """Standard normal CDF, vectorised (Abramowitz & Stegun 7.1.26: absolute error < 1.5e-7).

    NaN stays NaN; +-inf give 1 and 0.
    """
    shape = np.shape(x)
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    z = np.abs(x)
    z /= math.sqrt(2.0)
    t = z * 0.3275911
    t += 1.0
    np.divide(1.0, t, out=t)
    poly = t * 1.061405429
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += c
        poly *= t
    z *= z
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= 0.5
    poly *= z  # half of erfc(|x| / sqrt 2)
    out: FloatArray = np.where(x >= 0.0, 1.0 - poly, poly).reshape(shape)  # NaN x: poly NaN
    return out


def p_inside(signed_distance_m: FloatArray, sigma: FloatArray, area_m2: FloatArray) -> FloatArray:
    """Probability that the true position lies inside a fence, under the Gaussian error model.

    ``signed_distance_m``: the fix's distance to the fence boundary, negative inside. ``sigma``:
    per-axis standard deviation in metres (> 0). ``area_m2``: the fence's area. The estimate is
    the half-plane value Phi(-d / sigma) (exact for a straight boundary, fair while sigma is small
    next to the fence, wrong near corners: 0.5 at a right-angle vertex where the truth is 0.25;
    geo/README.md gives measured errors) capped by area / (2 pi sigma^2), a strict upper bound
    since the density never exceeds 1 / (2 pi sigma^2); so a 1 km cell fix is never "inside" a
    50 m station.
    Result in [0, 1]; NaN distance gives 0.
    """
    z = np.atleast_1d(np.divide(signed_distance_m, sigma, dtype=np.float64))
    np.negative(z, out=z)
    p = normal_cdf(z)
    cap = np.atleast_1d(np.multiply(sigma, 2.0 * math.pi, dtype=np.float64))
    cap *= sigma
    np.divide(area_m2, cap, out=cap)
    np.minimum(p, cap, out=p)
    np.nan_to_num(p, copy=False, nan=0.0)
    np.clip(p, 0.0, 1.0, out=p)
    shape = np.broadcast_shapes(np.shape(signed_distance_m), np.shape(sigma), np.shape(area_m2))
    out: FloatArray = p.reshape(shape)
    return out


# Edges farther than this many sigmas from a fix change its p_inside by less than 2e-6 each.
EDGE_CUTOFF_SIGMAS = 5.0
# Gauss-Legendre nodes and weights on [-1, 1] for each half of an edge's angular span.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)


def polygon_p_inside(
    inside: npt.NDArray[np.bool_],
    sigma: FloatArray,
    edge_fix: npt.NDArray[np.int64],
    ax: FloatArray,
    ay: FloatArray,
    bx: FloatArray,
    by: FloatArray,
) -> FloatArray:
    """Exact p_inside of fixes against a polygon under the Gaussian model, from nearby edges.

    ``inside`` (per fix): whether the fix is inside (shapely contains); ``sigma`` (per fix,
    metres). Edges come as (fix, edge) pairs: ``edge_fix`` the fix, (ax, ay) -> (bx, by) the
    edge's ends in metres relative to the fix, rings oriented with the interior on the left
    (exteriors counter-clockwise, holes clockwise), every edge within EDGE_CUTOFF_SIGMAS of its
    fix present. The probability is the signed sum over edges of the Gaussian mass of triangle
    (fix, a, b): its angle / 2 pi minus I / 2 pi, I the integral over the triangle's angle of
    exp(-r^2 / 2) (r: distance to the edge's line along the ray, in sigmas). The angle terms sum
    to the winding number (``inside``) and far edges' I vanish. With h the line's distance and w
    the position along it (sigmas), I = exp(-h^2/2) [du - h * int (1 - exp(-w^2/2)) / (h^2 + w^2)
    dw], du the angle exactly (arctan) and the smooth remainder by 6-point Gauss-Legendre in
    atan(w) on each side of the foot: error O(h^2) for small h, negligible otherwise. A fix
    exactly on an edge is taken as 0.5. Result in [0, 1].
    """
    s = sigma[edge_fix]
    dx = bx - ax
    dy = by - ay
    length = np.hypot(dx, dy)
    cross = ax * by - ay * bx  # > 0: the fix is on the interior side of this edge
    with np.errstate(invalid="ignore", divide="ignore"):
        hs = np.abs(cross) / length / s
        tx, ty = dx / length / s, dy / length / s
    w_a = ax * tx + ay * ty  # along-line positions of the ends, in sigmas
    w_b = bx * tx + by * ty
    w_lo = np.minimum(w_a, w_b)
    w_hi = np.maximum(w_a, w_b)
    du = np.arctan2(w_hi, hs) - np.arctan2(w_lo, hs)
    phi_lo = np.arctan(w_lo)
    phi_hi = np.arctan(w_hi)
    h2 = hs * hs
    h2 = np.where(np.isfinite(h2) & (h2 > 0), h2, 1.0)  # unusable pairs: any finite value
    rest = np.zeros(len(hs))
    # Integrate on each side of the foot (phi = 0, where the remainder has its kink) separately;
    # an edge seen wholly on one side needs one pass.
    straddle = np.flatnonzero((phi_lo < 0.0) & (phi_hi > 0.0))
    one_side = np.flatnonzero(~((phi_lo < 0.0) & (phi_hi > 0.0)))
    pieces = (
        (one_side, phi_lo[one_side], phi_hi[one_side]),
        (straddle, phi_lo[straddle], np.zeros(len(straddle))),
        (straddle, np.zeros(len(straddle)), phi_hi[straddle]),
    )
    for which, a_end, b_end in pieces:
        if len(which) == 0:
            continue
        half = (b_end - a_end) * 0.5
        mid = (a_end + b_end) * 0.5
        hh = h2[which]
        acc = np.zeros(len(which))
        for x_k, w_k in zip(_GL_X, _GL_W, strict=True):
            t2 = np.tan(mid + half * x_k)
            t2 *= t2
            g = -np.expm1(t2 * -0.5)
            g *= 1.0 + t2
            t2 += hh
            g /= t2
            g *= w_k
            acc += g
        rest[which] += acc * half
    integral = np.exp(-h2 / 2.0) * (du - np.nan_to_num(hs) * rest)
    usable = (length > 0) & (hs > 0)
    term = np.where(usable, np.sign(cross) * integral, 0.0)
    sums = np.bincount(edge_fix, weights=term, minlength=len(inside))
    p = inside.astype(np.float64) - sums / (2.0 * math.pi)
    on_edge = (length > 0) & (cross == 0) & (w_a * w_b <= 0)
    hits = np.bincount(edge_fix, weights=on_edge.astype(np.float64), minlength=len(inside))
    p = np.where(hits > 0, 0.5, p)
    out: FloatArray = np.clip(np.nan_to_num(p, nan=0.0), 0.0, 1.0)
    return out
