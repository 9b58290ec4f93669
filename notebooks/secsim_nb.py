"""Helpers shared by the notebooks in this folder: load a secsim results folder with pandas,
nearest-rank quantiles (as secsim's summary.csv computes them) and 95 % confidence intervals
(Student t, Welch, Wilson, Newcombe). Standard library, numpy and pandas only.

A results folder is what `secsim run experiments/<name>.ron [--out DIR]` writes: records.csv
(one row per procedure run, long format), summary.csv (per flow, procedure and variant),
manifest.json and, for CAPIF, capif_ccf_load.csv. records.csv may also be gzipped
(records.csv.gz). The context columns (`experiment`, and for a sweep `point` and one column
per axis) are kept: `group_keys`, `point_labels` and `context_labels` expose them.

records.csv (src/metrics/csv.rs, src/metrics/record.rs): `flow` is the workload flow ("" for
records that serve no one flow, such as a CCF's requests), `variant` the alternative known at
the start (CAPIF security method, recovery strategy, exposed item; "" when the flow alone says
it), `result` what a success settled on (an N32 handshake's capability, a CAPIF negotiation's
method), `cause` why a run did not end ok. `new_connection` is 0/1; the outcome `unfinished`
(still running when the run stopped; latency = its age) counts as a failure.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

OUTCOMES = ["ok", "error", "refused", "unreachable", "timeout", "unfinished"]

# The documented records.csv columns and how to parse them; anything else is an extra column
# (a sweep's axis columns).
RECORD_STR = ["experiment", "flow", "procedure", "variant", "outcome", "result", "cause",
              "initiator", "responder", "via"]
RECORD_INT = ["seed", "status", "start_ns", "end_ns", "bytes", "round_trips", "overhead_bytes"]
RECORD_FLOAT = ["latency_ms"]
RECORD_BOOL = ["new_connection"]
# Context columns before the record's own (sweep axis columns follow `point`).
CONTEXT = ["experiment", "point"]
KNOWN = set(RECORD_STR + RECORD_INT + RECORD_FLOAT + RECORD_BOOL + CONTEXT)

# summary.csv: one row per (context..., flow, procedure, variant).
SUMMARY_GROUP = ["flow", "procedure", "variant"]
SUMMARY_STR = ["experiment"] + SUMMARY_GROUP
SUMMARY_COUNTS = ["seeds", "count"] + OUTCOMES
SUMMARY_STATS = ["mean", "p50", "p90", "p99", "min", "max"]
SUMMARY_KNOWN = set(SUMMARY_STR + SUMMARY_COUNTS + CONTEXT
                    + [f"latency_ms_{s}" for s in SUMMARY_STATS]
                    + ["latency_ms_mean_ci95_low", "latency_ms_mean_ci95_high",
                       "failure_rate", "failure_rate_ci95_low", "failure_rate_ci95_high"])


def data_file(folder, name: str) -> Path:
    """`folder/name`, or `folder/name.gz` when only the gzipped file is there."""
    folder = Path(folder)
    for p in (folder / name, folder / (name + ".gz")):
        if p.exists():
            return p
    raise FileNotFoundError(f"{folder}: neither {name} nor {name}.gz")


def _read_csv_str(path: Path) -> pd.DataFrame:
    # Everything as text first: variants such as "None" or "NA" must stay strings.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _numeric_or_text(col: pd.Series) -> pd.Series:
    num = pd.to_numeric(col, errors="coerce")
    # Keep text columns (axis values such as "TlsFailureOnly") as they are.
    return num if num.notna().sum() == (col != "").sum() else col


def read_records(folder) -> pd.DataFrame:
    """records.csv(.gz) with typed columns (`new_connection` as bool)."""
    df = _read_csv_str(data_file(folder, "records.csv"))
    missing = [c for c in RECORD_STR + RECORD_INT + RECORD_FLOAT + RECORD_BOOL
               if c not in df.columns and c != "experiment"]
    if missing:
        raise ValueError(f"{folder}: records.csv lacks {missing}: written by an older secsim? "
                         "(rerun it, or notebooks/make_data.sh for notebooks/data)")
    for c in df.columns:
        if c in RECORD_INT or c == "point":
            df[c] = pd.to_numeric(df[c]).astype("int64")
        elif c in RECORD_FLOAT:
            df[c] = pd.to_numeric(df[c]).astype("float64")
        elif c in RECORD_BOOL:
            df[c] = df[c].str.lower().isin(["1", "true"])
        elif c not in RECORD_STR:
            df[c] = _numeric_or_text(df[c])
    return df


def read_summary(folder) -> pd.DataFrame:
    df = _read_csv_str(data_file(folder, "summary.csv"))
    for c in df.columns:
        if c in SUMMARY_COUNTS or c == "point":
            df[c] = pd.to_numeric(df[c]).astype("int64")
        elif c.startswith(("latency_", "failure_rate")):
            # Latency columns read "NaN" when a group has no successful run.
            df[c] = pd.to_numeric(df[c], errors="coerce")
        elif c not in SUMMARY_STR:
            df[c] = _numeric_or_text(df[c])
    return df


def read_manifest(folder) -> dict:
    p = Path(folder) / "manifest.json"
    return json.loads(p.read_text()) if p.exists() else {}


def extra_columns(records: pd.DataFrame) -> list[str]:
    """Columns of records.csv that are not documented ones (sweep axis columns, ...)."""
    return [c for c in records.columns if c not in KNOWN]


def group_keys(df: pd.DataFrame) -> list[str]:
    """The context columns present (`experiment`, and `point` for a sweep): the prefix of
    every groupby, so that records of several experiments or sweep points never mix."""
    return [k for k in CONTEXT if k in df.columns]


def flow_label(flow: str, variant: str, default: str = "all") -> str:
    """"flow / variant", either alone when the other is "", `default` when both are."""
    return " / ".join(x for x in (flow, variant) if x) or default


def point_labels(records: pd.DataFrame) -> dict:
    """point -> "point 3 (rate=5, ...)" using the axis columns; {} without a `point` column."""
    if "point" not in records.columns:
        return {}
    axes = extra_columns(records)
    first = records.drop_duplicates("point").set_index("point")
    out = {}
    for p, row in first.iterrows():
        ax = ", ".join(f"{a}={row[a]}" for a in axes)
        out[p] = f"point {p}" + (f" ({ax})" if ax else "")
    return out


def context_labels(records: pd.DataFrame) -> dict:
    """Context tuple (the values of `group_keys(records)`, in order) -> label prefix: the
    experiment when the records hold several, then the point label; "" for a plain run."""
    keys = group_keys(records)
    if not keys:
        return {(): ""}
    points = point_labels(records)
    several = "experiment" in keys and records["experiment"].nunique() > 1
    out = {}
    for ctx in records[keys].drop_duplicates().itertuples(index=False, name=None):
        parts = []
        for k, v in zip(keys, ctx):
            if k == "experiment" and several:
                parts.append(str(v))
            elif k == "point":
                parts.append(points.get(v, f"point {v}"))
        out[tuple(ctx)] = ", ".join(parts)
    return out


def with_context(label: str, ctx, labels: dict) -> str:
    """`label` prefixed with the context's label (see `context_labels`), if any."""
    prefix = labels.get(tuple(ctx), "") if ctx is not None else ""
    return f"{prefix}: {label}" if prefix else label


def seed_count(records: pd.DataFrame, manifest: dict | None = None) -> int:
    """Seeds in the run: the manifest's list, else the distinct seeds of the records."""
    if manifest and manifest.get("seeds"):
        return len(manifest["seeds"])
    return max(1, records["seed"].nunique())


def exact_latency_ms(records: pd.DataFrame) -> pd.Series:
    """Latency as secsim computes it before formatting: (end_ns - start_ns) / 1e6."""
    return (records["end_ns"] - records["start_ns"]).clip(lower=0) / 1e6


def nearest_rank(values, q: float) -> float:
    """The nearest-rank q quantile (secsim's metrics::stats::quantile)."""
    v = np.sort(np.asarray(values, dtype=float))
    if len(v) == 0:
        return math.nan
    rank = math.ceil(q * len(v))
    return float(v[min(max(rank, 1), len(v)) - 1])


# ---------------------------------------------------------------------------------------------
# Confidence intervals

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t with df (> 0, not necessarily whole) degrees of freedom."""
    if not (0.0 < p < 1.0) or not df > 0:
        return math.nan
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def secsim_t975(df: int) -> float:
    """t(0.975, df) as secsim's metrics::stats::t975 has it (table to 30, then the normal limit
    with a 1/df correction): to check summary.csv's interval of the mean exactly."""
    table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
             2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
             2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
    if df < 1:
        return math.nan
    return table[df - 1] if df <= 30 else 1.959964 + 2.37 / df


def secsim_mean_ci95(values) -> tuple[float, float, float]:
    """Mean and 95 % interval as summary.csv computes them (secsim's metrics::stats::mean_ci95)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    m = float(v.sum() / n)
    if n < 2:
        return (m, math.nan, math.nan)
    half = secsim_t975(n - 1) * math.sqrt(float(((v - m) ** 2).sum()) / (n - 1) / n)
    return (m, m - half, m + half)


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student t interval of `values` (e.g. one mean per seed); NaNs are dropped."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    m = float(v.mean())
    if n < 2:
        return (m, math.nan, math.nan)
    half = t_ppf(0.5 + level / 2.0, n - 1) * float(v.std(ddof=1)) / math.sqrt(n)
    return (m, m - half, m + half)


def welch_diff_ci(a, b, level: float = 0.95) -> tuple[float, float, float]:
    """mean(b) - mean(a) and its Welch t interval (per-seed values of two alternatives)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return (math.nan, math.nan, math.nan)
    d = float(b.mean() - a.mean())
    if len(a) < 2 or len(b) < 2:
        return (d, math.nan, math.nan)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se2 = va + vb
    if se2 == 0:
        return (d, d, d)
    df = se2**2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_ppf(0.5 + level / 2.0, df) * math.sqrt(se2)
    return (d, d - half, d + half)


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """Proportion k/n and its Wilson score interval."""
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (p, max(0.0, centre - half), min(1.0, centre + half))


def newcombe_diff(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> tuple[float, float, float]:
    """p2 - p1 and Newcombe's hybrid score interval (built from the two Wilson intervals)."""
    p1, l1, u1 = wilson(k1, n1, level)
    p2, l2, u2 = wilson(k2, n2, level)
    if math.isnan(p1) or math.isnan(p2):
        return (math.nan, math.nan, math.nan)
    d = p2 - p1
    return (d, d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2))


def _self_check() -> None:
    # Textbook values: t(0.975; 1, 4, 9, 30), the normal limit, Wilson for 0/10 and 5/10.
    for df, t in [(1, 12.7062), (4, 2.7764), (9, 2.2622), (30, 2.0423), (1e7, 1.9600)]:
        assert abs(t_ppf(0.975, df) - t) < 1e-3, (df, t_ppf(0.975, df))
    assert abs(wilson(0, 10)[2] - 0.2775) < 1e-3
    p, lo, hi = wilson(5, 10)
    assert abs(lo - 0.2366) < 1e-3 and abs(hi - 0.7634) < 1e-3


_self_check()
