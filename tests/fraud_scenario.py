"""A generated show night: organic viewers and scripted bots, as ledger entries.

Organic (10,000 votes): 7,000 phones over four 6-minute voting windows. Each votes at most
once per window after a human delay (Poisson-like arrivals: a rush after the window opens,
then a long tail); devices were issued seconds to an hour before their first vote; addresses
are homes (some shared by a household), 40 carrier-grade NAT addresses shared by dozens of
phones, and the venue's Wi-Fi (one address for 5% of phones, declared trusted in the show file).
User agents come from 30 real mobile browser strings, popular ones more often.

Bots (1,000 votes), five farms that each behave like a known attack:

- ``scripted`` (150): a headless browser or an HTTP library, from a data-centre network;
- ``subnet`` (220): fresh devices cycling through one /24 at 3 votes a second;
- ``metronome`` (200): one vote every 1.5 s (+-20 ms) for one contestant, each from a new
  home address and a device made a second earlier, all with one user-agent string;
- ``sniper`` (200): 50 per window, each a new device voting 80-600 ms after the window opens;
- ``farm`` (200): 4 addresses with 50 phones each, all voting within 90 s;
- ``careful`` (30): one vote each from old devices on distinct home addresses, with browser
  user agents and human delays. Nothing tells them from viewers; they are here so the figure
  shows what the signals cannot see.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

WINDOW_MS = 6 * 60_000
OPENS = [600_000 * (i + 1) for i in range(4)]
CATEGORIES = ["display", "innovation", "craft", "popular"]
CONTESTANTS = [f"c{i:02d}" for i in range(1, 9)]
VENUE = "100.64.9.9"

UAS = (
    [
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) AppleWebKit/605.1.15 "
        f"(KHTML, like Gecko) Version/{v.split('_')[0]}.0 Mobile/15E148 Safari/604.1"
        for v in ("17_1", "17_0", "16_6", "16_5", "15_7", "17_2", "16_1", "15_6")
    ]
    + [
        f"Mozilla/5.0 (Linux; Android {a}; {m}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{c}.0.0.0 Mobile Safari/537.36"
        for a, m, c in (
            ("13", "SM-S911B", "119"),
            ("12", "M2102J20SG", "118"),
            ("13", "Pixel 7", "120"),
            ("11", "V2055A", "117"),
            ("12", "ANA-AN00", "116"),
            ("13", "PGT-AN10", "119"),
            ("10", "HMA-AL00", "112"),
            ("13", "22081212C", "120"),
            ("12", "RMX3031", "115"),
            ("11", "M2012K11AC", "114"),
        )
    ]
    + [
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
        f"(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.{n}(0x18002d2c) NetType/WIFI"
        for n in range(40, 52)
    ]
)
BOT_UA = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/118.0.5993.111 Mobile Safari/537.36"
)
SCRIPTED_UAS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.28 Safari/537.36",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
]


@dataclass
class Scenario:
    entries: list[dict[str, str]] = field(default_factory=list)
    kind: dict[str, str] = field(default_factory=dict)
    """vote id -> ``organic`` or the bot farm's name."""


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.votes: list[dict[str, str]] = []
        self.kind: dict[str, str] = {}
        self.n = 0
        weights = [1 / (i + 1) for i in range(len(UAS))]
        self.ua_weights = weights

    def ua(self) -> str:
        return self.rng.choices(UAS, self.ua_weights)[0]

    def device(self, born: int) -> str:
        return f"{born:x}.{self.rng.getrandbits(96):024x}"

    def home_ip(self) -> str:
        r = self.rng
        first = r.choice([36, 39, 58, 110, 113, 117, 120, 183])
        return f"{first}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def vote(self, kind: str, t: int, dev: str, ip: str, ua: str, cat: str, who: str) -> None:
        self.n += 1
        vid = f"v{self.n:06d}{self.rng.getrandbits(32):08x}"
        self.kind[vid] = kind
        self.votes.append(
            {
                "k": "vote",
                "st": "accepted",
                "why": "",
                "vid": vid,
                "dev": dev,
                "ip": ip,
                "ua": ua,
                "cat": cat,
                "c": who,
                "t": str(t),
            }
        )


def generate(seed: int = 7, organic: int = 10_000) -> Scenario:
    g = _Gen(seed)
    r = g.rng
    popularity = {cat: [r.uniform(0.3, 3.0) for _ in CONTESTANTS] for cat in CATEGORIES}

    # -- organic ---------------------------------------------------------------------------
    phones = 7_000
    carriers = [f"223.104.{r.randrange(256)}.{r.randrange(1, 255)}" for _ in range(40)]
    ips: list[str] = []
    for _ in range(phones):
        roll = r.random()
        if roll < 0.05:
            ips.append(VENUE)
        elif roll < 0.25:
            ips.append(r.choice(carriers))
        elif roll < 0.40 and ips:
            ips.append(r.choice(ips[-50:]))  # a household shares its router's address
        else:
            ips.append(g.home_ip())
    agents = [g.ua() for _ in range(phones)]
    plan: list[tuple[int, int, str]] = []  # (t, phone, category)
    per_window = organic // len(OPENS)
    for w, opened in enumerate(OPENS):
        for phone in r.sample(range(phones), per_window):
            rush = r.random() < 0.4
            delay = r.expovariate(1 / (10_000 if rush else 90_000))
            t = opened + 1_500 + int(r.lognormvariate(math.log(2_500), 0.5)) + int(delay)
            plan.append((min(t, opened + WINDOW_MS - 1), phone, CATEGORIES[w]))
    plan.sort()
    devices: dict[int, str] = {}
    for t, phone, cat in plan:
        if phone not in devices:
            gap = max(2_500, int(r.lognormvariate(math.log(120_000), 1.5)))
            devices[phone] = g.device(t - gap)
        who = r.choices(CONTESTANTS, popularity[cat])[0]
        g.vote("organic", t, devices[phone], ips[phone], agents[phone], cat, who)

    # -- bots ------------------------------------------------------------------------------
    for _ in range(150):
        w = r.randrange(4)
        t = OPENS[w] + r.randrange(5_000, WINDOW_MS - 1_000)
        ip = f"198.51.100.{r.randrange(1, 255)}"
        ua = r.choice(SCRIPTED_UAS)
        g.vote("scripted", t, g.device(t - r.randrange(200, 5_000)), ip, ua, CATEGORIES[w], "c03")
    t = OPENS[1] + 60_000
    for _ in range(220):
        t += int(r.expovariate(3 / 1000))
        ip = f"203.0.113.{r.randrange(1, 255)}"
        dev = g.device(t - r.randrange(10_000, 60_000))
        g.vote("subnet", t, dev, ip, g.ua(), CATEGORIES[1], "c05")
    t = OPENS[2] + 20_000
    for _ in range(200):
        t += 1_500 + r.randrange(-20, 21)
        g.vote("metronome", t, g.device(t - r.randrange(300, 900)), g.home_ip(), BOT_UA,
               CATEGORIES[2], "c07")  # fmt: skip
    for w, opened in enumerate(OPENS):
        for _ in range(50):
            t = opened + r.randrange(80, 600)
            dev = g.device(t - r.randrange(1_000, 30_000))
            g.vote("sniper", t, dev, g.home_ip(), g.ua(), CATEGORIES[w], r.choice(CONTESTANTS))
    for f in range(4):
        ip = g.home_ip()
        start = OPENS[3] + 30_000 + f * 40_000
        for _ in range(50):
            t = start + r.randrange(0, 90_000)
            dev = g.device(t - r.randrange(600_000, 3_600_000))
            g.vote("farm", t, dev, ip, g.ua(), CATEGORIES[3], "c02")

    for _ in range(30):
        w = r.randrange(4)
        t = OPENS[w] + 5_000 + int(r.expovariate(1 / 60_000)) % (WINDOW_MS - 6_000)
        dev = g.device(t - r.randrange(600_000, 3_600_000))
        g.vote("careful", t, dev, g.home_ip(), g.ua(), CATEGORIES[w], "c04")

    entries: list[dict[str, str]] = []
    for w, opened in enumerate(OPENS):
        cat = CATEGORIES[w]
        entries.append({"k": "stage", "phase": "voting", "category": cat, "t": str(opened)})
        entries.append(
            {"k": "stage", "phase": "results", "category": cat, "t": str(opened + WINDOW_MS)}
        )
    entries += g.votes
    entries.sort(key=lambda e: (int(e["t"]), e["k"] != "stage"))
    return Scenario(entries, g.kind)
