"""The demo market's cast: collector vehicles, their owners, the simulated traders, the login.

Plain data, no Django. Pre-1981 cars carried short chassis numbers; the demo gives every car a
17-character VIN in the modern format (real manufacturer prefix, model-year letter, correct
check digit) so that the same validation as for any user's vehicle applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "paper-money-2026"
DEMO_DISPLAY_NAME = "Demo Driver"


class AgentKind(StrEnum):
    MARKET_MAKER = "market_maker"
    NOISE = "noise"
    MOMENTUM = "momentum"


class BodyStyle(StrEnum):
    """The silhouette drawn on the vehicle's generated picture."""

    FASTBACK = "fastback"
    COUPE = "coupe"
    ROADSTER = "roadster"
    MUSCLE = "muscle"
    SALOON = "saloon"


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str


@dataclass(frozen=True)
class Trader:
    username: str
    display_name: str
    kind: AgentKind


@dataclass(frozen=True)
class TimelineEvent:
    date: date
    title: str
    text: str = ""


@dataclass(frozen=True)
class DemoVehicle:
    owner: str  # an OWNERS username
    make: str
    model: str
    year: int
    trim: str
    vin: str
    colour: str
    mileage: int
    description: str
    specs: tuple[tuple[str, str], ...]
    events: tuple[TimelineEvent, ...]
    symbol: str
    total_shares: int
    listing_price: str  # dollars, a decimal string
    body_style: BodyStyle
    body_rgb: str  # "#rrggbb": the paint
    accent_rgb: str  # stripes, trim, the name on the card

    @property
    def title(self) -> str:
        return f"{self.year} {self.make} {self.model}"


OWNERS: tuple[Person, ...] = (
    Person("harriet_vale", "Vale Motor Collection"),
    Person("tomas_ibarra", "Tomás Ibarra"),
    Person("keiko_mori", "Mori Garage"),
    Person("desmond_achebe", "Desmond Achebe"),
)

VEHICLES: tuple[DemoVehicle, ...] = (
    DemoVehicle(
        owner="harriet_vale",
        make="Porsche",
        model="911 Carrera RS 2.7",
        year=1973,
        trim="Touring",
        vin="WP0AB09183S360412",
        colour="Grand Prix White, Viper Green script",
        mileage=61_240,
        description=(
            "The homologation special that made the ducktail famous. Matching-numbers engine, "
            "original Viper Green side script and wheel centres, three owners from new."
        ),
        specs=(
            ("Engine", "2.7 L air-cooled flat-six, mechanical fuel injection"),
            ("Power", "210 PS at 6,300 rpm"),
            ("Gearbox", "5-speed manual (915)"),
            ("Weight", "1,075 kg"),
            ("Top speed", "245 km/h"),
        ),
        events=(
            TimelineEvent(date(1973, 3, 14), "Built in Zuffenhausen", "One of 1,308 Touring cars."),
            TimelineEvent(date(1974, 6, 2), "Delivered in Munich", "First owner, a dentist."),
            TimelineEvent(date(1998, 9, 20), "Engine rebuild", "Rebuilt to factory tolerances."),
            TimelineEvent(date(2019, 5, 11), "Concours class win", "Best in class, air-cooled."),
        ),
        symbol="PORRS73",
        total_shares=5000,
        listing_price="150.00",
        body_style=BodyStyle.FASTBACK,
        body_rgb="#f1efe6",
        accent_rgb="#3f9b3a",
    ),
    DemoVehicle(
        owner="harriet_vale",
        make="Ford",
        model="Mustang Shelby GT500",
        year=1967,
        trim="Fastback",
        vin="1FA0T09SXVS102211",
        colour="Wimbledon White, Guardsman Blue stripes",
        mileage=48_900,
        description=(
            "Big-block Shelby with its original Police Interceptor 428, dual quads and the "
            "factory Le Mans stripes. Documented by the Shelby registry."
        ),
        specs=(
            ("Engine", "7.0 L (428 cu in) V8, two 4-barrel carburettors"),
            ("Power", "355 hp"),
            ("Gearbox", "4-speed manual (Toploader)"),
            ("Production", "2,048 GT500s in 1967"),
        ),
        events=(
            TimelineEvent(date(1967, 2, 8), "Built in Los Angeles", "Shelby American, LAX plant."),
            TimelineEvent(date(1967, 4, 1), "Sold new in Texas"),
            TimelineEvent(date(2004, 10, 15), "Rotisserie restoration", "Original paint code."),
        ),
        symbol="GT50067",
        total_shares=2000,
        listing_price="85.00",
        body_style=BodyStyle.MUSCLE,
        body_rgb="#f4f4ee",
        accent_rgb="#1f3a93",
    ),
    DemoVehicle(
        owner="tomas_ibarra",
        make="Chevrolet",
        model="Corvette Sting Ray",
        year=1963,
        trim="Split-Window Coupe",
        vin="1G1YY37S6P5108844",
        colour="Riverside Red",
        mileage=72_315,
        description=(
            "The one-year-only split rear window. Fuel-injected 327 with the four-speed, "
            "Bloomington Gold certified."
        ),
        specs=(
            ("Engine", "5.4 L (327 cu in) V8, Rochester fuel injection"),
            ("Power", "360 hp"),
            ("Gearbox", "4-speed manual (Muncie)"),
            ("Suspension", "Independent rear, transverse leaf spring"),
        ),
        events=(
            TimelineEvent(date(1962, 11, 19), "Built in St. Louis"),
            TimelineEvent(date(1979, 7, 4), "Stored in a barn", "Off the road for 22 years."),
            TimelineEvent(date(2001, 8, 30), "Barn find", "Found with 41,000 miles."),
            TimelineEvent(date(2012, 6, 23), "Gold certification", "Bloomington Gold."),
        ),
        symbol="VETTE63",
        total_shares=1000,
        listing_price="160.00",
        body_style=BodyStyle.COUPE,
        body_rgb="#a4161a",
        accent_rgb="#d9d9d9",
    ),
    DemoVehicle(
        owner="tomas_ibarra",
        make="Plymouth",
        model="Hemi 'Cuda",
        year=1970,
        trim="Hardtop",
        vin="1P3BS23R1YB130555",
        colour="Vitamin C Orange",
        mileage=39_870,
        description=(
            "426 Hemi with the shaker hood and pistol-grip four-speed: one of the most wanted "
            "muscle cars of its era."
        ),
        specs=(
            ("Engine", "7.0 L (426 cu in) Hemi V8"),
            ("Power", "425 hp"),
            ("Gearbox", "4-speed manual, pistol grip"),
            ("Rear axle", "Dana 60, 4.10:1"),
        ),
        events=(
            TimelineEvent(date(1970, 1, 12), "Built in Hamtramck"),
            TimelineEvent(date(1971, 5, 22), "Drag strip debut", "12.9 s quarter mile."),
            TimelineEvent(date(2015, 3, 3), "Broadcast sheet found", "Under the rear seat."),
        ),
        symbol="CUDA70",
        total_shares=2000,
        listing_price="75.00",
        body_style=BodyStyle.MUSCLE,
        body_rgb="#f28c28",
        accent_rgb="#1b1b1b",
    ),
    DemoVehicle(
        owner="keiko_mori",
        make="Jaguar",
        model="E-Type 3.8",
        year=1961,
        trim="Series 1 Roadster",
        vin="SAJEA1AD1MC850123",
        colour="British Racing Green",
        mileage=55_020,
        description=(
            "An early flat-floor roadster with outside bonnet latches, the car Enzo Ferrari "
            "is said to have called the most beautiful ever made."
        ),
        specs=(
            ("Engine", "3.8 L XK straight-six, three SU carburettors"),
            ("Power", "265 hp (gross)"),
            ("Gearbox", "4-speed Moss manual"),
            ("Brakes", "Discs all round, inboard at the rear"),
        ),
        events=(
            TimelineEvent(date(1961, 5, 9), "Built in Coventry", "Browns Lane."),
            TimelineEvent(date(1961, 7, 1), "Exported to New York"),
            TimelineEvent(date(1988, 4, 17), "Returned to England"),
            TimelineEvent(date(2016, 9, 10), "Goodwood Revival parade"),
            TimelineEvent(date(2021, 2, 26), "Full mechanical service"),
        ),
        symbol="ETYPE61",
        total_shares=2000,
        listing_price="90.00",
        body_style=BodyStyle.ROADSTER,
        body_rgb="#0f4d2e",
        accent_rgb="#e8dcc0",
    ),
    DemoVehicle(
        owner="keiko_mori",
        make="BMW",
        model="M3",
        year=1989,
        trim="E30 Sport Evolution",
        vin="WBSAK0304KAE40211",
        colour="Henna Red",
        mileage=88_410,
        description=(
            "The touring-car champion for the road: S14 four-cylinder, dog-leg gearbox, box "
            "flares. Complete service book."
        ),
        specs=(
            ("Engine", "2.3 L S14 inline-four, 16 valves"),
            ("Power", "195 hp at 6,750 rpm"),
            ("Gearbox", "5-speed Getrag dog-leg"),
            ("Weight", "1,200 kg"),
        ),
        events=(
            TimelineEvent(date(1989, 2, 20), "Built in Regensburg"),
            TimelineEvent(date(1989, 4, 3), "Delivered in Stuttgart"),
            TimelineEvent(date(2010, 11, 5), "Imported to the United States"),
            TimelineEvent(date(2023, 3, 18), "Clutch and timing chain"),
        ),
        symbol="BMWM389",
        total_shares=1000,
        listing_price="95.00",
        body_style=BodyStyle.SALOON,
        body_rgb="#8e1b1e",
        accent_rgb="#2f6dc2",
    ),
    DemoVehicle(
        owner="desmond_achebe",
        make="Toyota",
        model="Supra Turbo",
        year=1994,
        trim="A80, 6-speed",
        vin="JT2JA82JXR0012345",
        colour="Quicksilver",
        mileage=64_800,
        description=(
            "Twin-turbo 2JZ with the Getrag V160 six-speed, unmodified, with its targa top and "
            "original window sticker."
        ),
        specs=(
            ("Engine", "3.0 L 2JZ-GTE inline-six, sequential twin turbo"),
            ("Power", "320 hp"),
            ("Gearbox", "6-speed manual (Getrag V160)"),
            ("0-60 mph", "4.6 s"),
        ),
        events=(
            TimelineEvent(date(1993, 11, 29), "Built in Tahara"),
            TimelineEvent(date(1994, 2, 14), "Sold new in California"),
            TimelineEvent(date(2020, 8, 8), "Documented survivor", "Original paint throughout."),
        ),
        symbol="SUPRA94",
        total_shares=1000,
        listing_price="110.00",
        body_style=BodyStyle.COUPE,
        body_rgb="#b8bcc2",
        accent_rgb="#c8102e",
    ),
)

TRADERS: tuple[Trader, ...] = (
    Trader("sim_pitlane", "Pit Lane Liquidity", AgentKind.MARKET_MAKER),
    Trader("sim_chequered", "Chequered Flag Capital", AgentKind.MARKET_MAKER),
    Trader("sim_apex", "Apex Quotes", AgentKind.MARKET_MAKER),
    Trader("sim_torque", "Torque & Spread", AgentKind.MARKET_MAKER),
    Trader("sim_paddock", "Paddock Markets", AgentKind.MARKET_MAKER),
    Trader("sim_slipstream", "Slipstream Sam", AgentKind.MOMENTUM),
    Trader("sim_launch", "Launch Control", AgentKind.MOMENTUM),
    Trader("sim_throttle", "Full Throttle Fran", AgentKind.MOMENTUM),
    Trader("sim_drafting", "Drafting Dave", AgentKind.MOMENTUM),
    Trader("sim_turbolag", "Turbo Lag Tess", AgentKind.MOMENTUM),
    Trader("sim_overtake", "Overtake Olu", AgentKind.MOMENTUM),
    Trader("sim_wrencher", "Weekend Wrencher", AgentKind.NOISE),
    Trader("sim_barnfind", "Barn Find Betty", AgentKind.NOISE),
    Trader("sim_chrome", "Chrome Bumper Chris", AgentKind.NOISE),
    Trader("sim_patina", "Patina Pat", AgentKind.NOISE),
    Trader("sim_dipstick", "Dipstick Dan", AgentKind.NOISE),
    Trader("sim_gearhead", "Gearhead Grace", AgentKind.NOISE),
    Trader("sim_hubcap", "Hubcap Hal", AgentKind.NOISE),
    Trader("sim_detailer", "Detailer Dee", AgentKind.NOISE),
    Trader("sim_redline", "Redline Rosa", AgentKind.NOISE),
    Trader("sim_clutch", "Clutch Kick Kai", AgentKind.NOISE),
    Trader("sim_oilchange", "Oil Change Omar", AgentKind.NOISE),
    Trader("sim_twotone", "Two-Tone Tina", AgentKind.NOISE),
    Trader("sim_carb", "Carb Cleaner Cal", AgentKind.NOISE),
    Trader("sim_rally", "Rally Rae", AgentKind.NOISE),
    Trader("sim_sunday", "Sunday Driver Sid", AgentKind.NOISE),
    Trader("sim_concours", "Concours Connie", AgentKind.NOISE),
    Trader("sim_tyrekicker", "Tyre Kicker Ted", AgentKind.NOISE),
    Trader("sim_roadtrip", "Road Trip Ruth", AgentKind.NOISE),
    Trader("sim_shiftknob", "Shift Knob Sean", AgentKind.NOISE),
    Trader("sim_fender", "Fender Bender Finn", AgentKind.NOISE),
    Trader("sim_hillclimb", "Hill Climb Hana", AgentKind.NOISE),
    Trader("sim_coldstart", "Cold Start Cora", AgentKind.NOISE),
)
