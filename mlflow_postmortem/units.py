"""Real unit conversions, as (name, factor, offset) with new = factor * old + offset.

A fitted rescale is called a unit change only when one of these (or a power of ten) maps the
production values back onto the reference's shape: a spread change that happens to land near
1.609 has an offset no mile-to-kilometre conversion has, and fails that test.
"""

from __future__ import annotations

#: (from, to, factor, offset); the inverse of each is added below
_CONVERSIONS: tuple[tuple[str, str, float, float], ...] = (
    # length
    ("in", "cm", 2.54, 0.0), ("ft", "m", 0.3048, 0.0), ("yd", "m", 0.9144, 0.0), ("mi", "km", 1.609344, 0.0),
    ("nmi", "km", 1.852, 0.0), ("ft", "in", 12.0, 0.0), ("yd", "ft", 3.0, 0.0), ("mi", "ft", 5280.0, 0.0),
    ("m", "in", 39.37008, 0.0), ("mi", "m", 1609.344, 0.0), ("radius", "diameter", 2.0, 0.0),
    # mass
    ("lb", "kg", 0.45359237, 0.0), ("oz", "g", 28.349523, 0.0), ("st", "kg", 6.350293, 0.0), ("lb", "oz", 16.0, 0.0),
    ("st", "lb", 14.0, 0.0), ("short ton", "kg", 907.18474, 0.0), ("long ton", "kg", 1016.0469, 0.0),
    ("lb", "g", 453.59237, 0.0), ("ct", "g", 0.2, 0.0),
    # speed
    ("m/s", "km/h", 3.6, 0.0), ("mph", "km/h", 1.609344, 0.0), ("mph", "m/s", 0.44704, 0.0), ("kn", "km/h", 1.852, 0.0),
    ("kn", "m/s", 0.514444, 0.0), ("ft/s", "m/s", 0.3048, 0.0), ("kn", "mph", 1.150779, 0.0),
    # temperature
    ("degC", "degF", 1.8, 32.0), ("degC", "K", 1.0, 273.15), ("degF", "K", 5 / 9, 255.372222),
    # time
    ("min", "s", 60.0, 0.0), ("h", "min", 60.0, 0.0), ("h", "s", 3600.0, 0.0), ("day", "h", 24.0, 0.0),
    ("day", "min", 1440.0, 0.0), ("day", "s", 86400.0, 0.0), ("week", "day", 7.0, 0.0), ("year", "day", 365.0, 0.0),
    ("year", "day (365.25)", 365.25, 0.0), ("year", "month", 12.0, 0.0), ("year", "week", 52.0, 0.0),
    ("month", "day", 30.4375, 0.0), ("week", "h", 168.0, 0.0),
    # area
    ("m2", "ft2", 10.76391, 0.0), ("acre", "m2", 4046.856, 0.0), ("ha", "acre", 2.471054, 0.0),
    ("mi2", "km2", 2.589988, 0.0), ("in2", "cm2", 6.4516, 0.0), ("ft2", "in2", 144.0, 0.0), ("yd2", "m2", 0.836127, 0.0),
    # volume
    ("US gal", "L", 3.785412, 0.0), ("UK gal", "L", 4.54609, 0.0), ("US fl oz", "mL", 29.57353, 0.0),
    ("ft3", "L", 28.31685, 0.0), ("m3", "ft3", 35.31467, 0.0), ("bbl", "L", 158.9873, 0.0), ("cup", "mL", 236.5882, 0.0),
    ("US pint", "L", 0.473176, 0.0), ("US quart", "L", 0.946353, 0.0), ("in3", "cm3", 16.38706, 0.0),
    ("US gal", "UK gal", 0.832674, 0.0),
    # energy and power
    ("kWh", "MJ", 3.6, 0.0), ("cal", "J", 4.184, 0.0), ("BTU", "kJ", 1.055056, 0.0), ("kWh", "BTU", 3412.142, 0.0),
    ("therm", "kWh", 29.30711, 0.0), ("hp", "kW", 0.7456999, 0.0), ("PS", "kW", 0.7354988, 0.0),
    ("BTU/h", "W", 0.2930711, 0.0), ("ft lbf", "J", 1.355818, 0.0),
    # pressure
    ("psi", "kPa", 6.894757, 0.0), ("bar", "psi", 14.50377, 0.0), ("atm", "kPa", 101.325, 0.0),
    ("mmHg", "kPa", 0.1333224, 0.0), ("inHg", "kPa", 3.386389, 0.0), ("atm", "psi", 14.69595, 0.0),
    ("atm", "mmHg", 760.0, 0.0), ("inHg", "mmHg", 25.4, 0.0),
    # fuel economy, angle, data
    ("mpg (US)", "km/L", 0.4251437, 0.0), ("mpg (UK)", "km/L", 0.3540062, 0.0), ("mpg (US)", "mpg (UK)", 1.200950, 0.0),
    ("rad", "deg", 57.29578, 0.0), ("turn", "deg", 360.0, 0.0), ("grad", "deg", 0.9, 0.0),
    ("byte", "bit", 8.0, 0.0), ("KiB", "kB", 1.024, 0.0), ("KiB", "B", 1024.0, 0.0), ("MiB", "B", 1048576.0, 0.0),
    ("GiB", "GB", 1.073741824, 0.0),
    # counts and money
    ("dozen", "units", 12.0, 0.0), ("gross", "units", 144.0, 0.0),
)


def _build() -> tuple[tuple[str, float, float], ...]:
    """Every conversion and its inverse, and the powers of ten; conversions with the same factor
    and offset (s -> min, min -> h) share one entry naming them all, since the data cannot tell."""
    table: list[tuple[str, float, float]] = []
    for source, target, factor, offset in _CONVERSIONS:
        table.append((f"{source} -> {target}", factor, offset))
        table.append((f"{target} -> {source}", 1 / factor, -offset / factor))
    for k in range(1, 16):
        table.append((f"x 10^{k} (e.g. units to {_SUBUNITS.get(k, 'a smaller unit')})", 10.0**k, 0.0))
        table.append((f"/ 10^{k} (e.g. {_SUBUNITS.get(k, 'a smaller unit')} to units)", 10.0**-k, 0.0))
    merged: dict[tuple[float, float], list[str]] = {}
    for name, factor, offset in table:
        key = (float(f"{factor:.7g}"), float(f"{offset:.7g}"))
        merged.setdefault(key, []).append(name)
    return tuple((" or ".join(names), factor, offset) for (factor, offset), names in merged.items())


_SUBUNITS = {1: "tenths", 2: "cents or percent", 3: "milli-units or thousands", 6: "micro-units or millions",
             9: "nano-units or billions", 12: "pico-units or trillions", 15: "femto-units or quadrillions"}

#: every conversion with its inverse and the powers of ten: (name, factor, offset)
UNITS: tuple[tuple[str, float, float], ...] = _build()
