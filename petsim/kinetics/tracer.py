"""Tracer parameter tables (per-structure rate constants) stored as package data."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from importlib import resources

from petsim.core.toml import loads_toml

__all__ = ["KineticParams", "Tracer", "load_tracer"]

_SIDES = ("_l", "_r")
#: keys of a table's [input] section (the arguments of PlasmaInput.bolus they set)
_INPUT_KEYS = ("parent_fraction_plateau", "parent_half_time_min", "blood_to_plasma")


@dataclass(frozen=True)
class KineticParams:
    """Two-tissue compartment rate constants of one region.

    Parameters
    ----------
    K1 : float  mL/cm^3/min, plasma-to-tissue clearance (>= 0).
    k2 : float  1/min, efflux (> 0).
    k3 : float  1/min, binding rate at baseline (>= 0).
    k4 : float  1/min, dissociation (> 0).
    vB : float  blood volume fraction, 0 <= vB < 1.
    bmax_nm : float  available receptor density B'max (nM); only for mass effects.
    """

    K1: float
    k2: float
    k3: float
    k4: float
    vB: float = 0.0
    bmax_nm: float = math.inf

    def __post_init__(self):
        for name in ("K1", "k3"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        for name in ("k2", "k4"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not (0.0 <= self.vB < 1.0):
            raise ValueError(f"vB must be in [0, 1), got {self.vB!r}")
        if not (self.bmax_nm > 0):
            raise ValueError(f"bmax_nm must be > 0 (inf: no mass effect), got {self.bmax_nm!r}")

    @property
    def bp_nd(self) -> float:
        """Binding potential BP_ND = k3 / k4."""
        return self.k3 / self.k4

    @property
    def v_nd(self) -> float:
        """Non-displaceable distribution volume V_ND = K1 / k2 (mL/cm^3)."""
        return self.K1 / self.k2

    @property
    def v_t(self) -> float:
        """Total distribution volume V_T = V_ND (1 + BP_ND) (mL/cm^3)."""
        return self.v_nd * (1.0 + self.bp_nd)


class Tracer:
    """A tracer's regional parameter table.

    Keys are structure names; a region name is a structure name plus an
    optional side suffix "_l"/"_r". A row named with the side (e.g.
    "amygdala_r") overrides the structure's row for that side.
    """

    def __init__(self, name, isotope, rows, reference_region, kd_app_nm=math.inf,
                 specific_activity_gbq_per_umol=math.inf, sources=None, molecular_weight_g_per_mol=math.nan,
                 mass_limit_ug_per_kg=math.inf, mass_limit_source="", input_params=None):
        self.name = name
        self.isotope = isotope
        self._rows = dict(rows)
        self.reference_region = reference_region
        self.kd_app_nm = float(kd_app_nm)
        self.specific_activity_gbq_per_umol = float(specific_activity_gbq_per_umol)
        self.molecular_weight_g_per_mol = float(molecular_weight_g_per_mol)
        self.sources = dict(sources or {})
        #: largest injected mass per body mass that published studies allow (ug/kg; inf: none known)
        self.mass_limit_ug_per_kg = float(mass_limit_ug_per_kg)
        self.mass_limit_source = str(mass_limit_source)
        #: keyword arguments of :meth:`PlasmaInput.bolus` the table gives (parent fraction, blood:plasma)
        self.input_params = dict(input_params or {})

    def _copy(self, rows=None, sources=None, **fields) -> "Tracer":
        args = dict(name=self.name, isotope=self.isotope, rows=self._rows if rows is None else rows,
                    reference_region=self.reference_region, kd_app_nm=self.kd_app_nm,
                    specific_activity_gbq_per_umol=self.specific_activity_gbq_per_umol,
                    sources=self.sources if sources is None else sources,
                    molecular_weight_g_per_mol=self.molecular_weight_g_per_mol,
                    mass_limit_ug_per_kg=self.mass_limit_ug_per_kg, mass_limit_source=self.mass_limit_source,
                    input_params=self.input_params)
        return Tracer(**{**args, **fields})

    def with_specific_activity(self, gbq_per_umol: float) -> "Tracer":
        """A copy whose molar activity at injection is ``gbq_per_umol`` (GBq/umol, > 0)."""
        if not (math.isfinite(gbq_per_umol) and gbq_per_umol > 0):
            raise ValueError(f"specific activity must be a finite number > 0 GBq/umol, got {gbq_per_umol!r}")
        return self._copy(specific_activity_gbq_per_umol=float(gbq_per_umol))

    @property
    def structures(self) -> list:
        """Structure names with a row (side-specific override rows excluded)."""
        return sorted(k for k in self._rows if not k.endswith(_SIDES))

    def _key(self, region_name: str) -> str:
        if not isinstance(region_name, str):
            raise TypeError(f"region name must be a str, got {type(region_name).__name__}")
        if region_name in self._rows:
            return region_name
        if region_name.endswith(_SIDES) and region_name[:-2] in self._rows:
            return region_name[:-2]
        raise KeyError(
            f"region {region_name!r} not in the {self.name} table; known structures "
            f"(optionally + '_l'/'_r'): {self.structures}"
        )

    def injected_mass_ug(self, dose_mbq: float) -> float:
        """Mass of tracer (ug) in ``dose_mbq`` at the table's specific activity; NaN if either is unknown."""
        sa = self.specific_activity_gbq_per_umol
        if not (math.isfinite(sa) and sa > 0 and math.isfinite(self.molecular_weight_g_per_mol)):
            return math.nan
        return dose_mbq / 1000.0 / sa * self.molecular_weight_g_per_mol  # umol x g/mol = ug

    def params(self, region_name: str) -> KineticParams:
        """Rate constants of a region (structure name, optionally with "_l"/"_r")."""
        return self._rows[self._key(region_name)]

    def bp_nd(self, region_name: str) -> float:
        """Baseline BP_ND = k3/k4 of a region."""
        return self.params(region_name).bp_nd

    def source(self, region_name: str) -> str:
        """Where the row's numbers come from (citation or stated derivation)."""
        return self.sources.get(self._key(region_name), "")

    def with_changes(self, regions=None, **changes) -> "Tracer":
        """A copy with some fields of some rows replaced, e.g. ``with_changes(vB=0.0)``.

        Parameters
        ----------
        regions : sequence of str, optional
            Region names to change (each gets its own override row); default
            every row of the table.
        **changes : KineticParams fields (K1, k2, k3, k4, vB, bmax_nm).
        """
        bad = set(changes) - {f.name for f in dataclasses.fields(KineticParams)}
        if bad:
            raise TypeError(f"unknown parameter(s) {sorted(bad)}; allowed: K1, k2, k3, k4, vB, bmax_nm")
        rows, sources = dict(self._rows), dict(self.sources)
        keys = list(rows) if regions is None else [regions] if isinstance(regions, str) else list(regions)
        for key in keys:
            base = self.params(key)
            rows[key] = dataclasses.replace(base, **changes)
            sources[key] = f"{self.source(key)}; changed: {changes}"
        return self._copy(rows=rows, sources=sources)

    def __repr__(self):
        return f"Tracer({self.name!r}, {len(self._rows)} rows)"


def load_tracer(name: str = "carfentanil", path=None) -> Tracer:
    """Load a tracer table, ``petsim/data/<name>.toml`` or an explicit TOML ``path``.

    Examples
    --------
    >>> tracer = load_tracer("carfentanil")
    >>> tracer.bp_nd("thalamus_medial")
    3.0
    """
    if path is None:
        res = resources.files("petsim") / "data" / f"{name}.toml"
        if not res.is_file():
            raise KeyError(f"no tracer table named {name!r}; known: ['carfentanil']")
        text = res.read_text(encoding="utf-8")
    else:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    label = name if path is None else str(path)
    doc = loads_toml(text, source=f"tracer table {label!r}")
    meta = doc.get("meta", {})
    kd = float(meta.get("kd_app_nm", math.inf))
    rows, sources = {}, {}
    for key, row in doc.get("structures", {}).items():
        try:
            k3, k4 = float(row["k3"]), float(row["k4"])
            # planning derivation B'max = BP_ND x K_D,app unless the row gives it
            derived = (k3 / k4) * kd if (k3 > 0 and k4 > 0 and math.isfinite(kd)) else math.inf
            p = KineticParams(
                K1=float(row["K1"]), k2=float(row["k2"]), k3=k3, k4=k4,
                vB=float(row.get("vB", 0.0)), bmax_nm=float(row.get("bmax_nm", derived)),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"tracer table {label!r}, row {key!r}: {exc!r}") from exc
        rows[key] = p
        sources[key] = row.get("source", meta.get("default_source", ""))
    return Tracer(
        name=meta.get("tracer", name), isotope=meta.get("isotope", "C-11"), rows=rows,
        reference_region=meta.get("reference_region"), kd_app_nm=kd,
        specific_activity_gbq_per_umol=float(meta.get("specific_activity_gbq_per_umol", math.inf)),
        sources=sources, molecular_weight_g_per_mol=float(meta.get("molecular_weight_g_per_mol", math.nan)),
        mass_limit_ug_per_kg=float(meta.get("mass_limit_ug_per_kg", math.inf)),
        mass_limit_source=meta.get("mass_limit_source", ""),
        input_params={k: float(v) for k, v in doc.get("input", {}).items() if k in _INPUT_KEYS},
    )
