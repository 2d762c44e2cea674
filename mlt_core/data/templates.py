"""Deterministic, parallel NLI pairs in en, hi, fr, es, written by this project from templates.

Every pair is first built as meaning (two `Clause`s: who does what, where, when, why) and only
then written out in each language, so a pair id means the same thing, with the same label, in
all four languages. Hindi agrees verbs and adjectives with the subject's gender ("खा रहा है" /
"खा रही है"); French and Spanish agree articles and adjectives, and French negation turns
"une pomme" into "de pomme".

How the label is decided (SNLI-style: premise and hypothesis describe the same scene):
  entailment     the hypothesis keeps or drops premise details, generalises the subject
                 ("a boy" -> "someone"), states the premise's reason ("because he is happy" ->
                 "he is happy"), or denies an activity the premise rules out ("sleeping" ->
                 "is not running");
  neutral        it adds a place, time, adjective or reason the premise does not give, or names
                 an activity that can go along with the premise's (reading <-> drinking tea);
  contradiction  it negates the premise's activity, names an incompatible one, a different
                 place, time or opposite adjective, or says "nobody" does what the premise says.
Each hypothesis *shape* (plain, negated, +place, +time, +adjective, +reason, mood, not-mood,
generic subject) is used equally often for every label, so the hypothesis alone says little:
the label is in how it relates to the premise.

Train and test never share a premise: each (English subject noun, premise activity) combination
belongs to one split only (a fixed hash, the same for every seed), so the test sample also asks
for compositional generalisation.

Regenerate the bundled sample:  python -m mlt_core.data.templates --out data/sample
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from mlt_core.data.langs import SAMPLE_LANGS
from mlt_core.errors import MltError

LANGS = SAMPLE_LANGS  # the languages the templates write
from mlt_core.data.labels import LABELS  # ("entailment", "neutral", "contradiction"): ids 0, 1, 2
TEST_SHARE = 5  # one (subject, activity) combination in 5 belongs to the test split
SAMPLE_PAIRS = 300  # per language in the bundled sample: 100 per label


# ------------------------------------------------------------------------------- lexicon
class Subject(NamedTuple):
    kind: str  # adult | child | animal
    en: str
    g: str  # English pronoun: m he, f she, n it
    hi: str
    hi_g: str
    fr: str
    fr_g: str
    es: str
    es_g: str


S = Subject
SUBJECTS = {
    "man": S("adult", "man", "m", "आदमी", "m", "homme", "m", "hombre", "m"),
    "woman": S("adult", "woman", "f", "औरत", "f", "femme", "f", "mujer", "f"),
    "boy": S("child", "boy", "m", "लड़का", "m", "garçon", "m", "chico", "m"),
    "girl": S("child", "girl", "f", "लड़की", "f", "fille", "f", "chica", "f"),
    "teacher_m": S("adult", "teacher", "m", "अध्यापक", "m", "professeur", "m", "profesor", "m"),
    "teacher_f": S("adult", "teacher", "f", "अध्यापिका", "f", "enseignante", "f", "profesora", "f"),
    "nurse": S("adult", "nurse", "f", "नर्स", "f", "infirmière", "f", "enfermera", "f"),
    "doctor": S("adult", "doctor", "m", "डॉक्टर", "m", "médecin", "m", "médico", "m"),
    "student_m": S("adult", "student", "m", "छात्र", "m", "étudiant", "m", "estudiante", "m"),
    "student_f": S("adult", "student", "f", "छात्रा", "f", "étudiante", "f", "estudiante", "f"),
    "farmer": S("adult", "farmer", "m", "किसान", "m", "agriculteur", "m", "agricultor", "m"),
    "cook": S("adult", "cook", "m", "रसोइया", "m", "cuisinier", "m", "cocinero", "m"),
    "singer": S("adult", "singer", "f", "गायिका", "f", "chanteuse", "f", "cantante", "f"),
    "driver": S("adult", "driver", "m", "ड्राइवर", "m", "chauffeur", "m", "conductor", "m"),
    "police": S("adult", "police officer", "m", "पुलिसवाला", "m", "policier", "m", "policía", "m"),
    "painter": S("adult", "painter", "m", "चित्रकार", "m", "peintre", "m", "pintor", "m"),
    "writer": S("adult", "writer", "f", "लेखिका", "f", "écrivaine", "f", "escritora", "f"),
    "dancer": S("adult", "dancer", "f", "नर्तकी", "f", "danseuse", "f", "bailarina", "f"),
    "fisherman": S("adult", "fisherman", "m", "मछुआरा", "m", "pêcheur", "m", "pescador", "m"),
    "tourist": S("adult", "tourist", "m", "पर्यटक", "m", "touriste", "m", "turista", "m"),
    "gardener": S("adult", "gardener", "m", "माली", "m", "jardinier", "m", "jardinero", "m"),
    "actor": S("adult", "actor", "m", "अभिनेता", "m", "acteur", "m", "actor", "m"),
    "actress": S("adult", "actress", "f", "अभिनेत्री", "f", "actrice", "f", "actriz", "f"),
    "soldier": S("adult", "soldier", "m", "सिपाही", "m", "soldat", "m", "soldado", "m"),
    "poet": S("adult", "poet", "m", "कवि", "m", "poète", "m", "poeta", "m"),
    "worker": S("adult", "worker", "m", "मज़दूर", "m", "ouvrier", "m", "obrero", "m"),
    "shopkeeper": S("adult", "shopkeeper", "m", "दुकानदार", "m", "commerçant", "m", "tendero", "m"),
    "dog": S("animal", "dog", "n", "कुत्ता", "m", "chien", "m", "perro", "m"),
    "cat": S("animal", "cat", "n", "बिल्ली", "f", "chat", "m", "gato", "m"),
    "horse": S("animal", "horse", "n", "घोड़ा", "m", "cheval", "m", "caballo", "m"),
    "cow": S("animal", "cow", "n", "गाय", "f", "vache", "f", "vaca", "f"),
    "monkey": S("animal", "monkey", "n", "बंदर", "m", "singe", "m", "mono", "m"),
    "duck": S("animal", "duck", "n", "बत्तख", "f", "canard", "m", "pato", "m"),
    "goat": S("animal", "goat", "n", "बकरी", "f", "chèvre", "f", "cabra", "f"),
    "elephant": S("animal", "elephant", "n", "हाथी", "m", "éléphant", "m", "elefante", "m"),
}
PERSONS = tuple(k for k, s in SUBJECTS.items() if s.kind != "animal")
CHILDREN = tuple(k for k, s in SUBJECTS.items() if s.kind == "child")
HOME_ANIMALS = ("dog", "cat")  # the only animals that go indoors (kitchen, bedroom, living room)

# adjective: en, hi (m, f), fr (m, f, m before a vowel), es (m, f); fr before, es after the noun
ADJECTIVES = {
    "young": ("young", ("युवा", "युवा"), ("jeune", "jeune", "jeune"), ("joven", "joven")),
    "old": ("old", ("बूढ़ा", "बूढ़ी"), ("vieux", "vieille", "vieil"), ("mayor", "mayor")),
    "little": ("little", ("छोटा", "छोटी"), ("petit", "petite", "petit"), ("pequeño", "pequeña")),
    "big": ("big", ("बड़ा", "बड़ी"), ("grand", "grande", "grand"), ("grande", "grande")),
}
KIND_ADJECTIVES = {"adult": ("young", "old"), "child": ("little",), "animal": ("little", "big")}
ANTONYMS = {"young": "old", "old": "young", "little": "big", "big": "little", "happy": "sad", "sad": "happy"}

# state: en, hi (m, f), fr (m, f), fr negated (m, f), es (m, f)
STATES = {
    "hungry": ("hungry", ("भूखा", "भूखी"), ("a faim",) * 2, ("n'a pas faim",) * 2, ("tiene hambre",) * 2),
    "thirsty": ("thirsty", ("प्यासा", "प्यासी"), ("a soif",) * 2, ("n'a pas soif",) * 2, ("tiene sed",) * 2),
    "tired": ("tired", ("थका हुआ", "थकी हुई"), ("est fatigué", "est fatiguée"),
              ("n'est pas fatigué", "n'est pas fatiguée"), ("está cansado", "está cansada")),
    "happy": ("happy", ("खुश", "खुश"), ("est heureux", "est heureuse"),
              ("n'est pas heureux", "n'est pas heureuse"), ("está contento", "está contenta")),
    "sad": ("sad", ("उदास", "उदास"), ("est triste",) * 2, ("n'est pas triste",) * 2, ("está triste",) * 2),
}
MOODS = ("happy", "sad")

# place: who can be there (out: anyone, home: people + dogs/cats, public: people), en, hi, fr, es
PLACES = {
    "park": ("out", "in the park", "पार्क में", "dans le parc", "en el parque"),
    "beach": ("out", "on the beach", "समुद्र तट पर", "sur la plage", "en la playa"),
    "forest": ("out", "in the forest", "जंगल में", "dans la forêt", "en el bosque"),
    "street": ("out", "in the street", "सड़क पर", "dans la rue", "en la calle"),
    "field": ("out", "in the field", "खेत में", "dans le champ", "en el campo"),
    "garden": ("out", "in the garden", "बगीचे में", "dans le jardin", "en el jardín"),
    "river": ("out", "in the river", "नदी में", "dans la rivière", "en el río"),
    "lake": ("out", "in the lake", "झील में", "dans le lac", "en el lago"),
    "sea": ("out", "in the sea", "समुद्र में", "dans la mer", "en el mar"),
    "kitchen": ("home", "in the kitchen", "रसोई में", "dans la cuisine", "en la cocina"),
    "bedroom": ("home", "in the bedroom", "शयनकक्ष में", "dans la chambre", "en el dormitorio"),
    "living": ("home", "in the living room", "बैठक में", "dans le salon", "en el salón"),
    "library": ("public", "in the library", "पुस्तकालय में", "à la bibliothèque", "en la biblioteca"),
    "classroom": ("public", "in the classroom", "कक्षा में", "dans la salle de classe", "en el aula"),
    "office": ("public", "in the office", "दफ़्तर में", "au bureau", "en la oficina"),
    "cafe": ("public", "in the café", "कैफ़े में", "au café", "en la cafetería"),
    "pool": ("public", "in the pool", "स्विमिंग पूल में", "dans la piscine", "en la piscina"),
}
TIMES = {
    "morning": ("in the morning", "सुबह", "le matin", "por la mañana"),
    "noon": ("at noon", "दोपहर को", "à midi", "al mediodía"),
    "evening": ("in the evening", "शाम को", "le soir", "por la tarde"),
    "night": ("at night", "रात को", "la nuit", "por la noche"),
}


class Act(NamedTuple):
    cat: str  # REST | SPORT | WALK | EYES | HANDS | EAT | DRINK: decides (in)compatibility
    who: tuple  # subject keys, or "person" / "child"
    places: tuple
    reasons: tuple  # states that plausibly cause it ("because he is hungry")
    en: str
    hi_obj: str
    hi_verb: str
    fr: str
    fr_neg: str
    es: str


A = Act
_P = ("person",)
ACTS = {
    "sleep": A("REST", _P + ("dog", "cat", "horse", "cow", "monkey", "duck", "goat", "elephant"),
               ("bedroom", "living", "park", "garden", "beach"), ("tired",),
               "sleeping", "", "सो", "dort", "ne dort pas", "durmiendo"),
    "run": A("SPORT", _P + ("dog", "horse", "goat"), ("park", "beach", "forest", "street", "field"), (),
             "running", "", "दौड़", "court", "ne court pas", "corriendo"),
    "swim": A("SPORT", _P + ("dog", "duck", "elephant"), ("river", "lake", "pool", "sea"), (),
              "swimming", "", "तैर", "nage", "ne nage pas", "nadando"),
    "cycle": A("SPORT", _P, ("park", "street", "forest", "beach"), (),
               "riding a bicycle", "साइकिल", "चला", "fait du vélo", "ne fait pas de vélo",
               "montando en bicicleta"),
    "football": A("SPORT", _P, ("park", "beach", "street"), ("happy",),
                  "playing football", "फ़ुटबॉल", "खेल", "joue au football", "ne joue pas au football",
                  "jugando al fútbol"),
    "climb": A("SPORT", _P + ("monkey", "cat"), ("park", "garden", "forest"), (),
               "climbing a tree", "पेड़ पर", "चढ़", "grimpe à un arbre", "ne grimpe pas à un arbre",
               "trepando a un árbol"),
    "dance": A("SPORT", _P, ("living", "street", "park", "beach"), ("happy",),
               "dancing", "", "नाच", "danse", "ne danse pas", "bailando"),
    "ball": A("SPORT", ("child", "dog", "cat"), ("park", "garden", "beach", "living"), ("happy",),
              "playing with a ball", "गेंद से", "खेल", "joue avec une balle", "ne joue pas avec une balle",
              "jugando con una pelota"),
    "walk": A("WALK", _P + ("dog", "elephant"), ("park", "beach", "forest", "street"), ("sad", "happy"),
              "walking", "", "टहल", "se promène", "ne se promène pas", "paseando"),
    "read": A("EYES", _P, ("library", "park", "garden", "bedroom", "cafe", "living", "classroom"), (),
              "reading a book", "किताब", "पढ़", "lit un livre", "ne lit pas de livre", "leyendo un libro"),
    "study": A("EYES", _P, ("library", "classroom", "bedroom", "cafe"), (),
               "studying", "पढ़ाई", "कर", "étudie", "n'étudie pas", "estudiando"),
    "write": A("HANDS", _P, ("library", "office", "cafe", "bedroom", "classroom"), ("sad",),
               "writing a letter", "चिट्ठी", "लिख", "écrit une lettre", "n'écrit pas de lettre",
               "escribiendo una carta"),
    "paint": A("HANDS", _P, ("garden", "park", "beach", "living", "classroom"), ("happy",),
               "painting a picture", "तस्वीर", "बना", "peint un tableau", "ne peint pas de tableau",
               "pintando un cuadro"),
    "guitar": A("HANDS", _P, ("park", "street", "living", "bedroom", "beach"), ("happy", "sad"),
                "playing the guitar", "गिटार", "बजा", "joue de la guitare", "ne joue pas de la guitare",
                "tocando la guitarra"),
    "cook": A("HANDS", _P, ("kitchen",), ("hungry",),
              "cooking dinner", "खाना", "बना", "prépare le dîner", "ne prépare pas le dîner",
              "preparando la cena"),
    "dishes": A("HANDS", _P, ("kitchen",), (),
                "washing the dishes", "बर्तन", "धो", "fait la vaisselle", "ne fait pas la vaisselle",
                "lavando los platos"),
    "plants": A("HANDS", _P, ("garden",), (),
                "watering the plants", "पौधों को पानी", "दे", "arrose les plantes",
                "n'arrose pas les plantes", "regando las plantas"),
    "fish": A("HANDS", _P, ("river", "lake", "sea"), ("hungry",),
              "fishing", "मछली", "पकड़", "pêche", "ne pêche pas", "pescando"),
    "computer": A("HANDS", _P, ("office", "library", "cafe", "bedroom"), (),
                  "working on a computer", "कंप्यूटर पर काम", "कर", "travaille sur un ordinateur",
                  "ne travaille pas sur un ordinateur", "trabajando en un ordenador"),
    "apple": A("EAT", _P + ("horse", "monkey", "elephant"), ("park", "garden", "kitchen", "classroom"),
               ("hungry",), "eating an apple", "सेब", "खा", "mange une pomme", "ne mange pas de pomme",
               "comiendo una manzana"),
    "rice": A("EAT", _P, ("kitchen", "garden", "cafe"), ("hungry",),
              "eating rice", "चावल", "खा", "mange du riz", "ne mange pas de riz", "comiendo arroz"),
    "tea": A("DRINK", _P, ("kitchen", "cafe", "garden", "office", "living"), ("tired",),
             "drinking tea", "चाय", "पी", "boit du thé", "ne boit pas de thé", "tomando té"),
    "water": A("DRINK", _P + ("dog", "cat", "horse", "cow", "duck", "goat", "elephant"),
               ("river", "lake", "kitchen", "park"), ("thirsty",),
               "drinking water", "पानी", "पी", "boit de l'eau", "ne boit pas d'eau", "bebiendo agua"),
    "grass": A("EAT", ("cow", "horse", "goat", "elephant"), ("field", "park", "forest"), ("hungry",),
               "eating grass", "घास", "खा", "mange de l'herbe", "ne mange pas d'herbe", "comiendo hierba"),
}
# Two different activities of one subject at one moment: incompatible (contradiction),
# compatible (neutral), or undecided (never used to build a pair).
_INCOMPATIBLE = {frozenset(p) for p in [("SPORT", "SPORT"), ("SPORT", "WALK"), ("SPORT", "EYES"),
                                        ("SPORT", "HANDS"), ("WALK", "HANDS"), ("HANDS", "HANDS")]}
_COMPATIBLE = {frozenset(p) for p in [("EAT", "EYES"), ("DRINK", "EYES"), ("EAT", "WALK"), ("DRINK", "WALK"),
                                      ("EAT", "DRINK")]}
# pairs the categories would get wrong: a letter can be written on a computer; rice and tea are
# not taken on a walk
_UNDECIDED = {frozenset(p) for p in [("write", "computer"), ("walk", "rice"), ("walk", "tea")]}


def relation(a: str, b: str) -> str | None:
    """'same', 'incompatible', 'compatible' or None (undecided) for two activities."""
    if a == b:
        return "same"
    if frozenset((a, b)) in _UNDECIDED:
        return None
    cats = frozenset((ACTS[a].cat, ACTS[b].cat))
    if "REST" in cats or cats in _INCOMPATIBLE:
        return "incompatible"
    return "compatible" if cats in _COMPATIBLE else None


def _can(subj: str, act: str) -> bool:
    who = ACTS[act].who
    return subj in who or ("person" in who and subj in PERSONS) or ("child" in who and subj in CHILDREN)


ACTS_OF = {s: tuple(a for a in ACTS if _can(s, a)) for s in SUBJECTS}


def places_for(subj: str, act: str) -> tuple:
    access = {"out"} | ({"home", "public"} if subj in PERSONS else {"home"} if subj in HOME_ANIMALS else set())
    return tuple(p for p in ACTS[act].places if PLACES[p][0] in access)


# ---------------------------------------------------------------------------- meaning
@dataclass(frozen=True)
class Clause:
    """One sentence as meaning. det: indef | def | someone | person | child | animal | nobody | noanimal."""

    subj: str
    det: str = "indef"
    adj: str | None = None
    act: str | None = None  # None: a state sentence ("the boy is (not) hungry")
    neg: bool = False
    place: str | None = None
    time: str | None = None
    reason: str | None = None  # state in a because-clause
    state: str | None = None


def _premise(rng, subj, act, force=None, forbid=(), p_extra=0.3) -> Clause:
    """Indefinite-subject premise; `force` fixes modifiers, `forbid` keeps them out, others at random."""
    force = force or {}
    options = {
        "adj": KIND_ADJECTIVES[SUBJECTS[subj].kind],
        "place": places_for(subj, act),
        "time": tuple(TIMES),
        "reason": ACTS[act].reasons,
    }
    mods = {}
    for field, values in options.items():
        if field in force:
            mods[field] = force[field]
        elif field not in forbid and values and rng.random() < p_extra:
            mods[field] = rng.choice(values)
    return Clause(subj, "indef", act=act, **mods)


def _partners(subj, act, rel) -> list:
    """Activities of `subj` standing in relation `rel` to `act` (just `act` for 'same')."""
    return [b for b in ACTS_OF[subj] if relation(act, b) == rel]


def _partner(rng, subj, act, rel):
    options = _partners(subj, act, rel)
    return rng.choice(options) if options else None


def _core(rng, label, neg=False):
    subj = rng.choice(list(SUBJECTS))
    pool = [a for a in ACTS_OF[subj] if _partners(subj, a, "compatible") and _partners(subj, a, "incompatible")]
    if not pool:
        return None
    act_h = rng.choice(pool)
    # plain: E same, N compatible, C incompatible;  negated: E incompatible, N compatible, C same
    rel = (("same", "compatible", "incompatible"), ("incompatible", "compatible", "same"))[neg][label]
    act_p = _partner(rng, subj, act_h, rel)
    return _premise(rng, subj, act_p), Clause(subj, "def", act=act_h, neg=neg)


def _modifier(rng, label, field):
    subj = rng.choice(list(SUBJECTS))
    values_of = (lambda a: places_for(subj, a)) if field == "place" else (lambda a: tuple(TIMES))
    acts = [a for a in ACTS_OF[subj] if len(values_of(a)) >= 2]
    if not acts:
        return None
    act = rng.choice(acts)
    value = rng.choice(values_of(act))
    if label == 0:
        premise = _premise(rng, subj, act, force={field: value})
    elif label == 1:
        premise = _premise(rng, subj, act, forbid={field})
    else:
        premise = _premise(rng, subj, act, force={field: rng.choice([v for v in values_of(act) if v != value])})
    return premise, Clause(subj, "def", act=act, **{field: value})


def _adjective(rng, label):
    subj = rng.choice([s for s in SUBJECTS if len(KIND_ADJECTIVES[SUBJECTS[s].kind]) == 2])
    act = rng.choice(ACTS_OF[subj])
    adj = rng.choice(KIND_ADJECTIVES[SUBJECTS[subj].kind])
    if label == 1:  # "A man ..." -> "The old man ..."
        premise = _premise(rng, subj, act, forbid={"adj"})
    else:  # "An old man ..." -> "The old man ..." (E) / "The young man ..." (C)
        premise = _premise(rng, subj, act, force={"adj": adj if label == 0 else ANTONYMS[adj]})
    return premise, Clause(subj, "def", adj=adj, act=act)


def _reason(rng, label):
    subj = rng.choice(list(SUBJECTS))
    acts = [a for a in ACTS_OF[subj] if ACTS[a].reasons]
    if not acts:
        return None
    act = rng.choice(acts)
    state = rng.choice(ACTS[act].reasons)
    if label == 0:
        premise = _premise(rng, subj, act, force={"reason": state})
    elif label == 1:
        premise = _premise(rng, subj, act, forbid={"reason"})
    else:
        other = _partner(rng, subj, act, "incompatible")
        premise = _premise(rng, subj, other, forbid={"reason"})
    return premise, Clause(subj, "def", act=act, reason=state)


def _mood(rng, label, neg=False):
    subj = rng.choice(list(SUBJECTS))
    mood = rng.choice(MOODS)
    # "is happy": E reason happy, C reason sad;  "is not happy": E reason sad, C reason happy
    wanted = {0: ANTONYMS[mood] if neg else mood, 2: mood if neg else ANTONYMS[mood]}.get(label)
    if wanted:
        acts = [a for a in ACTS_OF[subj] if wanted in ACTS[a].reasons]
        if not acts:
            return None
        premise = _premise(rng, subj, rng.choice(acts), force={"reason": wanted})
    else:  # neutral: no reason, or one that says nothing about mood
        act = rng.choice(ACTS_OF[subj])
        calm = [r for r in ACTS[act].reasons if r not in MOODS]
        premise = _premise(rng, subj, act, force={"reason": rng.choice(calm)} if calm and rng.random() < 0.5 else {},
                           forbid={"reason"})
    return premise, Clause(subj, "def", state=mood, neg=neg)


def _generic(rng, label):
    subj = rng.choice(list(SUBJECTS))
    kind = SUBJECTS[subj].kind
    act = rng.choice(ACTS_OF[subj])
    field = "place" if places_for(subj, act) and rng.random() < 0.5 else "time"
    values = places_for(subj, act) if field == "place" else tuple(TIMES)
    value = rng.choice(values)
    someone = rng.choice({"adult": ("someone", "person"), "child": ("someone", "child"), "animal": ("animal",)}[kind])
    nobody = "noanimal" if kind == "animal" else "nobody"
    if label == 0:  # "A boy is eating ... in the park" -> "Someone is eating ... in the park"
        return _premise(rng, subj, act, force={field: value}), Clause(subj, someone, act=act, **{field: value})
    if label == 2:  # -> "Nobody is eating ... in the park"
        return _premise(rng, subj, act, force={field: value}), Clause(subj, nobody, act=act, **{field: value})
    if rng.random() < 0.5:  # neutral: someone does it somewhere/sometime the premise leaves open
        return _premise(rng, subj, act, forbid={field}), Clause(subj, someone, act=act, **{field: value})
    others = [b for b in ACTS_OF[subj] if b != act and (field == "time" or value in places_for(subj, b))]
    if not others:
        return None  # neutral: nobody does something else there
    premise = _premise(rng, subj, act, force={field: value})
    return premise, Clause(subj, nobody, act=rng.choice(others), **{field: value})


FORMS = {
    "plain": _core,
    "negated": lambda rng, label: _core(rng, label, neg=True),
    "place": lambda rng, label: _modifier(rng, label, "place"),
    "time": lambda rng, label: _modifier(rng, label, "time"),
    "adjective": _adjective,
    "reason": _reason,
    "mood": _mood,
    "not-mood": lambda rng, label: _mood(rng, label, neg=True),
    "generic": _generic,
}


def split_of(premise: Clause) -> str:
    """'test' or 'train': fixed by the premise's English subject noun and activity, for every seed."""
    key = f"{SUBJECTS[premise.subj].en}|{premise.act}".encode()
    return "test" if hashlib.md5(key).digest()[0] % TEST_SHARE == 0 else "train"


# ---------------------------------------------------------------------------- writing
def _gi(g: str) -> int:
    return 1 if g == "f" else 0


def _starts_with_vowel(word: str) -> bool:
    return word[:1].lower() in "aeiouhéèêàâîôûœ"  # no h-aspiré noun in the lexicon


def _np(lang: str, c: Clause) -> tuple[str, str]:
    """Subject noun phrase and the gender that agrees with it in `lang`."""
    s = SUBJECTS[c.subj]
    if lang == "en":
        fixed = {"someone": "someone", "person": "a person", "child": "a child", "animal": "an animal",
                 "nobody": "nobody", "noanimal": "no animal"}
        if c.det in fixed:
            return fixed[c.det], "n" if c.det in ("animal", "noanimal") else s.g
        words = ([ADJECTIVES[c.adj][0]] if c.adj else []) + [s.en]
        art = "the" if c.det == "def" else "an" if words[0][0] in "aeiou" else "a"
        return " ".join([art] + words), s.g
    if lang == "hi":
        fixed = {"someone": ("कोई", "m"), "person": ("एक व्यक्ति", "m"), "animal": ("एक जानवर", "m"),
                 "child": ("एक बच्चा", "m") if s.hi_g == "m" else ("एक बच्ची", "f"),
                 "nobody": ("कोई भी", "m"), "noanimal": ("कोई भी जानवर", "m")}
        if c.det in fixed:
            return fixed[c.det]
        words = ([ADJECTIVES[c.adj][1][_gi(s.hi_g)]] if c.adj else []) + [s.hi]
        return " ".join((["एक"] if c.det == "indef" else []) + words), s.hi_g
    if lang == "fr":
        fixed = {"someone": ("quelqu'un", "m"), "person": ("une personne", "f"), "animal": ("un animal", "m"),
                 "child": ("un enfant", "m") if s.fr_g == "m" else ("une enfant", "f"),
                 "nobody": ("personne", "m"), "noanimal": ("aucun animal", "m")}
        if c.det in fixed:
            return fixed[c.det]
        words = [s.fr]
        if c.adj:
            forms = ADJECTIVES[c.adj][2]
            adj = forms[1] if s.fr_g == "f" else forms[2] if _starts_with_vowel(s.fr) else forms[0]
            words = [adj] + words
        if c.det == "indef":
            art = "une " if s.fr_g == "f" else "un "
        else:
            art = "l'" if _starts_with_vowel(words[0]) else "la " if s.fr_g == "f" else "le "
        return art + " ".join(words), s.fr_g
    if lang == "es":
        fixed = {"someone": ("alguien", "m"), "person": ("una persona", "f"), "animal": ("un animal", "m"),
                 "child": ("un niño", "m") if s.es_g == "m" else ("una niña", "f"),
                 "nobody": ("nadie", "m"), "noanimal": ("ningún animal", "m")}
        if c.det in fixed:
            return fixed[c.det]
        art = {("indef", "m"): "un", ("indef", "f"): "una", ("def", "m"): "el", ("def", "f"): "la"}[c.det, s.es_g]
        words = [art, s.es] + ([ADJECTIVES[c.adj][3][_gi(s.es_g)]] if c.adj else [])
        return " ".join(words), s.es_g
    raise MltError(f"unknown language {lang!r}; the templates write {', '.join(LANGS)}")


def render(lang: str, c: Clause) -> str:
    """The clause as one sentence in `lang`."""
    np, g = _np(lang, c)
    nobody = c.det in ("nobody", "noanimal")
    if lang == "en":
        if c.state:
            vp = f"is {'not ' if c.neg else ''}{STATES[c.state][0]}"
        else:
            vp = f"is {'not ' if c.neg else ''}{ACTS[c.act].en}"
            vp += "".join(" " + x for x in (c.place and PLACES[c.place][1], c.time and TIMES[c.time][0]) if x)
            if c.reason:
                vp += f" because {dict(m='he', f='she', n='it')[g]} is {STATES[c.reason][0]}"
        text = f"{np} {vp}."
    elif lang == "hi":
        if c.state:
            vp = STATES[c.state][1][_gi(g)] + (" नहीं" if c.neg else "") + " है"
        else:
            a = ACTS[c.act]
            aux = "रही है" if g == "f" else "रहा है"
            if c.neg or nobody:  # "सेब नहीं खा रहा है", "सो नहीं रहा है"
                verb = f"{a.hi_obj} नहीं {a.hi_verb} {aux}" if a.hi_obj else f"{a.hi_verb} नहीं {aux}"
            else:
                verb = " ".join(x for x in (a.hi_obj, a.hi_verb, aux) if x)
            vp = " ".join(x for x in (c.time and TIMES[c.time][1], c.place and PLACES[c.place][2], verb) if x)
            if c.reason:
                vp += f" क्योंकि वह {STATES[c.reason][1][_gi(g)]} है"
        text = f"{np} {vp}।"
    elif lang == "fr":
        if c.state:
            vp = STATES[c.state][3 if c.neg else 2][_gi(g)]
        else:
            a = ACTS[c.act]
            vp = a.fr_neg.replace(" pas", "", 1) if nobody else a.fr_neg if c.neg else a.fr
            vp += "".join(" " + x for x in (c.place and PLACES[c.place][3], c.time and TIMES[c.time][2]) if x)
            if c.reason:
                vp += f" parce qu'{'elle' if g == 'f' else 'il'} {STATES[c.reason][2][_gi(g)]}"
        text = f"{np} {vp}."
    else:
        if c.state:
            vp = ("no " if c.neg else "") + STATES[c.state][4][_gi(g)]
        else:
            vp = ("no " if c.neg else "") + "está " + ACTS[c.act].es
            vp += "".join(" " + x for x in (c.place and PLACES[c.place][4], c.time and TIMES[c.time][3]) if x)
            if c.reason:
                vp += f" porque {STATES[c.reason][4][_gi(g)]}"
        text = f"{np} {vp}."
    return text[0].upper() + text[1:]


# ------------------------------------------------------------------------- generating
def _label_counts(n: int) -> list[int]:
    """n // 3 of each label; the n % 3 left over go to entailment, then neutral."""
    return [n // 3 + (i < n % 3) for i in range(3)]


def _generate(n: int, seed: int, split: str) -> list[tuple[str, int, Clause, Clause]]:
    if split not in ("train", "test"):
        raise MltError(f"split must be 'train' or 'test', not {split!r}")
    if n < 0:
        raise MltError(f"n must be >= 0, not {n}")
    rng = random.Random(f"mlt-templates/{split}/{seed}")
    labels = [label for label, count in enumerate(_label_counts(n)) for _ in range(count)]
    rng.shuffle(labels)
    forms = list(FORMS)
    used = [0, 0, 0]  # pairs so far per label: each label cycles through the forms in turn
    seen = {lang: set() for lang in LANGS}
    out = []
    for i, label in enumerate(labels):
        for attempt in range(5000):
            form = forms[used[label] % len(forms)] if attempt < 2000 else rng.choice(forms)
            built = FORMS[form](rng, label)
            if built is None or split_of(built[0]) != split:
                continue
            texts = {lang: (render(lang, built[0]), render(lang, built[1])) for lang in LANGS}
            if any(texts[lang] in seen[lang] for lang in LANGS):
                continue
            for lang in LANGS:
                seen[lang].add(texts[lang])
            used[label] += 1
            out.append((f"{split}-{i:06d}", label, *built))
            break
        else:
            raise MltError(f"could only write {i} distinct {split} pairs from the templates; ask for fewer than {n}")
    return out


def generate_pairs(n: int, seed: int = 0, split: str = "train") -> pd.DataFrame:
    """`n` parallel NLI pairs per language (en, hi, fr, es), labels balanced.

    Columns id, lang, premise, hypothesis, label (0 entailment, 1 neutral, 2 contradiction).
    Each label gets n // 3 pairs; when n is not a multiple of 3 the one or two left over go to
    entailment, then neutral. Rows come language by language (LANGS order), pairs in id order;
    a pair has the same id, meaning and label in every language. Deterministic in
    (n, seed, split); split 'train' and 'test' never share a premise (see `split_of`).
    """
    pairs = _generate(n, seed, split)
    rows = [(pid, lang, render(lang, p), render(lang, h), label) for lang in LANGS for pid, label, p, h in pairs]
    df = pd.DataFrame(rows, columns=["id", "lang", "premise", "hypothesis", "label"])
    return df.astype({"label": "int64"})


def corpus_sentences(lang: str, n: int, seed: int = 0) -> list[str]:
    """`n` distinct plain sentences in `lang` (premises and hypotheses of train pairs), in a fixed order."""
    if lang not in LANGS:
        raise MltError(f"unknown language {lang!r}; the templates write {', '.join(LANGS)}")
    size, found = max(8, n), []
    while True:
        found = list(dict.fromkeys(render(lang, c) for _, _, p, h in _generate(size, seed, "train") for c in (p, h)))
        if len(found) >= n or size > 64 * max(n, 1):
            break
        size *= 2
    if len(found) < n:
        raise MltError(f"the templates give only {len(found)} distinct {lang} sentences; ask for fewer than {n}")
    return found[:n]


# --------------------------------------------------------------------- XNLI TSV sample
XNLI_TSV_COLUMNS = [
    "language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
    "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre", "label1", "label2",
    "label3", "label4", "label5", "sentence1_tokenized", "sentence2_tokenized", "match",
]


def _tokenize(lang: str, text: str) -> str:
    """Moses-like: punctuation split off, French elided articles split ("l' homme")."""
    text = re.sub(r"\s*([.,!?।])", r" \1", text)
    return re.sub(r"(\w')(?=\w)", r"\1 ", text) if lang == "fr" else text


def write_xnli_tsv(path: str | Path, n: int = SAMPLE_PAIRS, seed: int = 0, split: str = "test") -> Path:
    """Write `n` pairs per language in the XNLI 1.0 release layout (one file, all languages).

    Parse columns are left empty (as XNLI leaves them), the five annotator labels all repeat the
    gold label, pairID is the pair id, promptID numbers the distinct premises, genre 'mlt-template'.
    """
    pairs = _generate(n, seed, split)
    prompt_ids: dict[Clause, int] = {}
    for _, _, p, _ in pairs:
        prompt_ids.setdefault(p, len(prompt_ids) + 1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        w.writerow(XNLI_TSV_COLUMNS)
        for lang in sorted(LANGS):  # the release lists languages alphabetically
            for pid, label, p, h in pairs:
                s1, s2, gold = render(lang, p), render(lang, h), LABELS[label]
                assert "\t" not in s1 + s2 and "\n" not in s1 + s2
                w.writerow([lang, gold, "", "", "", "", s1, s2, prompt_ids[p], pid, "mlt-template",
                            *[gold] * 5, _tokenize(lang, s1), _tokenize(lang, s2), "True"])
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlt_core.data.templates", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/sample", help="folder to write xnli.test.tsv into")
    parser.add_argument("--n", type=int, default=SAMPLE_PAIRS, help="pairs per language (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = write_xnli_tsv(Path(args.out) / "xnli.test.tsv", n=args.n, seed=args.seed)
    print(f"wrote {path}: {args.n} pairs x {len(LANGS)} languages")


if __name__ == "__main__":
    main()
