"""The batch job file: a validated YAML description of many districts to check."""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from radius._errors import ConfigError, InputError
from radius._limits import load_yaml
from radius.config import (
    DEFAULT_THRESHOLD_BASIS,
    Loc,
    ThresholdBasis,
    key_problem,
    load_categories,
    pydantic_problems,
    resolve_speed,
    yaml_kind,
)
from radius.covering import SitingMethod, SitingObjective
from radius.i18n import Message, error_message, message
from radius.provision import ProvisionMethod
from radius.snap import DEFAULT_MAX_SNAP_M
from radius.standards import load_standard

__all__ = [
    "OUTPUT_FILES",
    "BatchJob",
    "BlockOptions",
    "DensityResidents",
    "DistrictsSpec",
    "FacilitiesSpec",
    "OutputKind",
    "ResidentsSpec",
    "SiteRequest",
    "SourceSpec",
    "check_job",
    "load_job",
]

OUTPUT_FILES: Final = {
    "gpkg": ("results.gpkg",),
    "xlsx": ("provision.xlsx",),
    "summary": ("summary.json",),
    "report": ("report.html", "report.pdf"),
}
"""Per-district files written for each ``outputs`` entry of the job."""
OutputKind = Literal["gpkg", "xlsx", "summary", "report"]
SiteSupply = Literal["land_area_m2", "floor_area_m2", "beds", "places"]
"""Supply a new site can be sized in (the capacity columns of facilities)."""
SiteSize = Annotated[float, Field(ge=0, allow_inf_nan=False)]


# =========================================================================== the job file


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """A path relative to the job file's folder (given as ``base_dir`` in the context)."""
    base = (info.context or {}).get("base_dir")
    path = value.expanduser()
    if base is not None and not path.is_absolute():
        path = Path(os.path.normpath(Path(base) / path))
    return path


JobPath = Annotated[Path, AfterValidator(_resolve_path)]
"""A path in a job file: relative paths are taken from the job file's folder."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _shorthand_file(value: Any) -> Any:
    """``"path"`` -> ``{"file": "path"}``."""
    if isinstance(value, str | Path):
        return {"file": value}
    return value


class SourceSpec(_Frozen):
    """One input: a file for every district, or one file per district.

    Attributes
    ----------
    file : Path, optional
        A file read once and clipped around each district.
    per_district : str or dict of str to Path, optional
        A path template holding ``{district_id}`` (e.g. ``plans/{district_id}.gpkg``), or
        a mapping from district id to path.
    layer : str, optional
        Layer of a multi-layer file (GeoPackage); for network files.
    """

    file: JobPath | None = None
    per_district: str | dict[str, JobPath] | None = None
    layer: str | None = None

    @field_validator("per_district")
    @classmethod
    def _template(
        cls, value: str | dict[str, Path] | None, info: ValidationInfo
    ) -> str | dict[str, Path] | None:
        if isinstance(value, str):
            try:
                fields = {name for _, name, _, _ in string.Formatter().parse(value) if name}
            except ValueError as exc:
                raise ValueError(message("batch_template_invalid", reason=str(exc))) from None
            if fields != {"district_id"}:
                found = ", ".join(sorted(fields)) or message("batch_template_no_field")
                raise ValueError(message("batch_template_fields", found=found))
            return str(_resolve_path(Path(value), info))
        return value

    @model_validator(mode="after")
    def _one_of(self) -> SourceSpec:
        if (self.file is None) == (self.per_district is None):
            raise ValueError(message("batch_source_one_of"))
        return self

    def path_for(self, district_id: str) -> Path:
        """The file of one district.

        Raises
        ------
        InputError
            If a per-district mapping has no entry for the district.
        """
        if self.file is not None:
            return self.file
        if isinstance(self.per_district, str):
            return Path(self.per_district.format(district_id=district_id))
        assert self.per_district is not None  # guaranteed by the validator
        if district_id not in self.per_district:
            raise InputError(message("batch_no_district_entry", district=district_id))
        return self.per_district[district_id]


class DensityResidents(_Frozen):
    """Residents estimated from a density spread evenly over every district.

    An *estimate*, for districts without residents data: each district's residents are
    ``density_per_ha`` × its area in hectares, shared by a square grid of points inside it
    (:func:`radius.population.residents_from_plots`). Every district of the job holds
    residents, including those left out by ``limit``, so neighbours share facilities.

    Attributes
    ----------
    density_per_ha : float
        Residents per hectare of district area (gross density).
    household_size : float, optional
        Persons per household (default from ``configs/population.yaml``).
    spacing_m : float, optional
        Grid spacing of the resident points, metres (default ``plot_point_spacing_m``).
    """

    density_per_ha: float = Field(gt=0, le=5000, allow_inf_nan=False)
    household_size: float | None = Field(default=None, gt=0, le=20, allow_inf_nan=False)
    spacing_m: float | None = Field(default=None, gt=0, le=10_000, allow_inf_nan=False)


class ResidentsSpec(_Frozen):
    """Where residents come from: one of ``file``, ``per_district``, ``density_per_ha``.

    Attributes
    ----------
    file : list of Path, optional
        One residents file (points, plots, buildings, OSM) or several population raster
        bands on one grid (summed).
    per_district : str or dict of str to Path, optional
        A residents file per district (see :class:`SourceSpec`).
    density : DensityResidents, optional
        An estimated density (see :class:`DensityResidents`).
    """

    file: list[JobPath] | None = None
    per_district: str | dict[str, JobPath] | None = None
    density: DensityResidents | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str | Path):
            return {"file": [value]}
        if isinstance(value, list):
            return {"file": value}
        if isinstance(value, dict) and "density_per_ha" in value:
            keys = ("density_per_ha", "household_size", "spacing_m")
            density = {k: v for k, v in value.items() if k in keys}
            return {"density": density} | {k: v for k, v in value.items() if k not in keys}
        if isinstance(value, dict) and isinstance(value.get("file"), str | Path):
            return value | {"file": [value["file"]]}
        return value

    @model_validator(mode="after")
    def _one_of(self) -> ResidentsSpec:
        given = [self.file is not None, self.per_district is not None, self.density is not None]
        if sum(given) != 1:
            raise ValueError(message("batch_residents_one_of"))
        if self.file is not None and not self.file:
            raise ValueError(message("batch_residents_no_file"))
        return self

    def source(self) -> SourceSpec | None:
        """The per-district files as a :class:`SourceSpec`, when residents are per district."""
        if self.per_district is None:
            return None
        return SourceSpec.model_construct(file=None, per_district=self.per_district)


def _source_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str | Path | dict):
        value = [value]
    if isinstance(value, list):
        return [_shorthand_file(item) for item in value]
    return value


class FacilitiesSpec(_Frozen):
    """Facility inventories: existing ones and planned ones (both optional).

    A missing per-district inventory means the district has none of that kind (noted).
    Without any inventory, facilities are the tagged features of an OSM network file.

    Attributes
    ----------
    existing : list of SourceSpec
        Inventories of existing facilities.
    planned : list of SourceSpec
        Inventories of planned facilities; they count like existing ones and carry
        ``source = "proposed"``.
    crs : str, optional
        CRS of the inventories' lon/lat columns (default WGS-84), e.g. ``EPSG:4490``.
    """

    existing: list[SourceSpec] = Field(default_factory=list)
    planned: list[SourceSpec] = Field(default_factory=list)
    crs: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str | Path | list):
            return {"existing": value}
        return value

    @field_validator("existing", "planned", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _source_list(value)


class BlockOptions(_Frozen):
    """Options of :func:`radius.districts.block_districts`.

    Attributes
    ----------
    min_area_m2 : float
        Smallest block kept, square metres.
    min_width_m : float
        Narrowest block kept, metres.
    """

    min_area_m2: float = Field(default=10_000.0, ge=0, allow_inf_nan=False)
    min_width_m: float = Field(default=20.0, ge=0, allow_inf_nan=False)


class DistrictsSpec(_Frozen):
    """The districts: a polygon file, or the arterial blocks of the (one) network.

    Attributes
    ----------
    file : Path, optional
        District polygons (GeoPackage, GeoJSON, zipped Shapefile).
    layer, id_column, name_column : str, optional
        See :func:`radius.districts.read_districts`.
    default_area_type : {"new", "old"}
        ``area_type`` of districts without one.
    allow_overlap : bool
        Accept overlapping districts (each is analysed on its own anyway).
    blocks : BlockOptions, optional
        Use the blocks bounded by arterial roads (``districts: blocks``).
    """

    file: JobPath | None = None
    layer: str | None = None
    id_column: str | None = None
    name_column: str | None = None
    default_area_type: Literal["new", "old"] = "new"
    allow_overlap: bool = False
    blocks: BlockOptions | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value == "blocks":
            return {"blocks": {}}
        if isinstance(value, dict) and value.get("blocks") in (True, None) and "blocks" in value:
            return value | {"blocks": {}}
        return _shorthand_file(value)

    @model_validator(mode="after")
    def _one_of(self) -> DistrictsSpec:
        if (self.file is None) == (self.blocks is None):
            raise ValueError(message("batch_districts_one_of"))
        return self


class SiteRequest(_Frozen):
    """One siting run (the options of ``radius site``), in a report or batch job.

    Attributes
    ----------
    category : str
        Category id of the new facilities.
    count : int, optional
        Number of new sites (maximal covering); none for set covering.
    objective : {"max_cover", "set_cover"}
        Most residents newly covered by ``count`` sites, or fewest sites covering all.
    threshold : str, optional
        Threshold label, e.g. ``"15min"`` (default: the standard's rule for the category).
    candidates : Path, optional
        Candidate points or plots; default street locations near uncovered residents.
    capacity : float or str, optional
        Capacity of every candidate, or the candidates' column holding it.
    per_resident : float, optional
        Capacity needed per resident (e.g. 0.1 m²).
    min_spacing_m : float, optional
        Least walking distance between new sites (metres).
    method : {"auto", "milp", "greedy"}
        Solver.
    time_limit_s : float
        MILP time limit (seconds).
    districts : tuple of str, optional
        Site for these districts only: their residents are the demand and the sites lie
        inside them (default: all districts). A batch sites each district for itself.
    size : float or mapping, optional
        Size of every new site in the supply of the category's ratio rules (one number, or
        supply → number, e.g. ``{floor_area_m2: 300}``); default the candidates' column,
        else what closes the shortfall of the site's unit.
    """

    category: str
    count: int | None = Field(default=None, ge=0, le=10_000)
    objective: SitingObjective = "max_cover"
    threshold: str | None = None
    candidates: JobPath | None = None
    capacity: float | str | None = None
    per_resident: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    min_spacing_m: float | None = Field(default=None, ge=0, le=100_000, allow_inf_nan=False)
    method: SitingMethod = "auto"
    time_limit_s: float = Field(default=30.0, gt=0, le=3600, allow_inf_nan=False)
    districts: tuple[str, ...] | None = Field(default=None, min_length=1)
    size: SiteSize | dict[SiteSupply, SiteSize] | None = None

    @model_validator(mode="after")
    def _count_fits_objective(self) -> SiteRequest:
        if self.objective == "max_cover" and self.count is None:
            raise ValueError(message("batch_site_needs_count"))
        if self.objective == "set_cover" and self.count is not None:
            raise ValueError(message("batch_site_set_cover_count"))
        return self


class BatchJob(_Frozen):
    """A validated batch job (the YAML job file).

    Attributes
    ----------
    name : str
        A name for reports.
    network : SourceSpec
        The street network: one file for all districts, or a road-line plan per district.
    residents : ResidentsSpec, optional
        Residents; default: the residential buildings of an OSM network file.
    facilities : FacilitiesSpec
        Existing and planned facility inventories.
    districts : DistrictsSpec
        The districts.
    area_type : {"new", "old"}, optional
        Overrides every district's area type.
    limit : int, optional
        Analyse only the first ``limit`` districts (in file order; blocks north to south).
    only : tuple of str, optional
        Analyse only these district ids.
    standard : str
        Standard profile name (``configs/standards/``) or a YAML path.
    categories : tuple of str, optional
        Category ids (default: all of ``configs/categories.yaml``).
    speed_profile : str, optional
        Walking-speed profile (``configs/speed_profiles.yaml``).
    speed_m_s : float, optional
        Walking speed (m/s); wins over ``speed_profile``.
    threshold_basis : {"time", "distance"}
        Thresholds from minutes × speed or the standard's walking distances (metres).
    method : {"2sfca", "inside"}
        How supply is counted for ratio rules.
    max_snap_m : float
        Largest access leg (metres) between a point and its street.
    crs : str
        Metric CRS: ``"auto"`` (UTM), ``"cgcs2000"`` or an EPSG code.
    buffer_factor : float
        The clipping buffer is ``buffer_factor`` × the largest threshold (metres). 1 gives
        exact walking distances; 2 also counts, in 2SFCA, every resident a facility near the
        district serves.
    household_size : float, optional
        Persons per household for residents files.
    service_areas : bool
        Also write service-area polygons per district.
    sites : tuple of SiteRequest
        Siting runs made for every district on its own: its residents are the demand and
        the new sites lie inside it. Their sites go into the district's outputs (a
        ``sites`` layer, sheet and report section) and the batch's ``sites`` layer.
    outputs : tuple of {"gpkg", "xlsx", "summary", "report"}
        Files written per district and for the batch; ``report`` writes each district's
        ``report.html`` and ``report.pdf`` (the report of ``radius report``).
    lang : {"zh", "en"}
        Language of the district reports.
    memory_limit : str or int
        Memory per worker process of a local cluster (``"2GiB"``, bytes, or ``"auto"``:
        the machine's memory shared by the workers).
    """

    name: str = ""
    network: SourceSpec
    residents: ResidentsSpec | None = None
    facilities: FacilitiesSpec = Field(default_factory=FacilitiesSpec)
    districts: DistrictsSpec
    area_type: Literal["new", "old"] | None = None
    limit: int | None = Field(default=None, ge=1)
    only: tuple[str, ...] | None = None
    standard: str = "national"
    categories: tuple[str, ...] | None = None
    speed_profile: str | None = None
    speed_m_s: float | None = Field(default=None, gt=0.1, lt=5.0, allow_inf_nan=False)
    threshold_basis: ThresholdBasis = DEFAULT_THRESHOLD_BASIS
    method: ProvisionMethod = "2sfca"
    max_snap_m: float = Field(default=DEFAULT_MAX_SNAP_M, gt=0, le=5000, allow_inf_nan=False)
    crs: str = "auto"
    buffer_factor: float = Field(default=1.0, ge=1.0, le=4.0, allow_inf_nan=False)
    household_size: float | None = Field(default=None, gt=0, le=20, allow_inf_nan=False)
    service_areas: bool = False
    sites: tuple[SiteRequest, ...] = ()
    outputs: tuple[OutputKind, ...] = ("gpkg", "xlsx", "summary")
    lang: Literal["zh", "en"] = "zh"
    memory_limit: str | int = "auto"

    @field_validator("network", mode="before")
    @classmethod
    def _network(cls, value: Any) -> Any:
        return _shorthand_file(value)

    @field_validator("facilities", mode="before")
    @classmethod
    def _facilities(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("standard")
    @classmethod
    def _standard_path(cls, value: str, info: ValidationInfo) -> str:
        if value.lower().endswith((".yaml", ".yml")):
            return str(_resolve_path(Path(value), info))
        return value

    @field_validator("outputs")
    @classmethod
    def _unique_outputs(cls, value: tuple[OutputKind, ...]) -> tuple[OutputKind, ...]:
        return tuple(kind for kind in OUTPUT_FILES if kind in value)

    @field_validator("sites")
    @classmethod
    def _sites_per_district(cls, value: tuple[SiteRequest, ...]) -> tuple[SiteRequest, ...]:
        if any(request.districts is not None for request in value):
            raise ValueError(message("batch_sites_districts"))
        return value

    @model_validator(mode="after")
    def _blocks_need_one_network(self) -> BatchJob:
        if self.districts.blocks is not None and self.network.file is None:
            raise ValueError(message("batch_blocks_one_network"))
        return self

    def limit_m(self) -> float:
        """The largest threshold of the job's categories, metres at the job's speed."""
        speed = resolve_speed(self.speed_profile, self.speed_m_s)
        categories = load_categories(ids=self.categories)
        return max(c.max_distance_m(speed, self.threshold_basis) for c in categories)

    def shared_files(self) -> dict[str, Path]:
        """The files read for every district, by key path."""
        files: dict[str, Path] = {}
        if self.network.file is not None:
            files["network.file"] = self.network.file
        if self.residents is not None and self.residents.file is not None:
            for k, path in enumerate(self.residents.file):
                files[f"residents.file.{k}"] = path
        for kind in ("existing", "planned"):
            for k, spec in enumerate(getattr(self.facilities, kind)):
                if spec.file is not None:
                    files[f"facilities.{kind}.{k}.file"] = spec.file
        if self.districts.file is not None:
            files["districts.file"] = self.districts.file
        if self.standard.lower().endswith((".yaml", ".yml")):
            files["standard"] = Path(self.standard)
        for k, request in enumerate(self.sites):
            if request.candidates is not None:
                files[f"sites.{k}.candidates"] = request.candidates
        return files


def _semantic_problems(job: BatchJob) -> list[tuple[Loc, Message | str]]:
    """Problems that need the configuration files or the file system: where and what."""
    problems: list[tuple[Loc, Message | str]] = []
    for key, path in job.shared_files().items():
        loc = _loc_of(key)
        if not path.exists():
            problems.append((loc, message("batch_file_not_found", path=str(path))))
        elif path.is_dir():
            problems.append((loc, message("batch_file_is_folder", path=str(path))))
    categories = {c.id: c for c in load_categories()}
    known = ", ".join(sorted(categories))
    for k, cid in enumerate(job.categories or ()):
        if cid not in categories:
            problems.append(
                (("categories", k), message("batch_unknown_category", value=repr(cid), known=known))
            )
    for k, request in enumerate(job.sites):
        if request.category not in categories:
            note = message("batch_unknown_category", value=repr(request.category), known=known)
            problems.append((("sites", k, "category"), note))
            continue
        labels = [threshold.label for threshold in categories[request.category].thresholds]
        if request.threshold is not None and request.threshold.strip() not in labels:
            note = message(
                "batch_site_unknown_threshold",
                category=request.category,
                value=repr(request.threshold),
                labels=", ".join(labels),
            )
            problems.append((("sites", k, "threshold"), note))
    try:
        resolve_speed(job.speed_profile, job.speed_m_s)
    except ConfigError as exc:
        problems.append((("speed_profile",), error_message(exc)))
    if "standard" not in job.shared_files() or Path(job.standard).exists():
        try:
            load_standard(job.standard, categories=load_categories())
        except ConfigError as exc:
            problems.append((("standard",), error_message(exc)))
    if isinstance(job.memory_limit, str) and job.memory_limit != "auto":
        from dask.utils import parse_bytes

        try:
            parse_bytes(job.memory_limit)
        except ValueError:
            problems.append(
                (("memory_limit",), message("batch_memory_limit", value=repr(job.memory_limit)))
            )
    return problems


def _loc_of(key: str) -> Loc:
    """``"facilities.existing.0.file"`` -> ``("facilities", "existing", 0, "file")``."""
    return tuple(int(part) if part.isdigit() else part for part in key.split("."))


def _invalid_job(source: str, problems: Sequence[tuple[Loc, str]]) -> ConfigError:
    lines = tuple(key_problem(loc, problem) for loc, problem in problems)
    return ConfigError(message("batch_job_invalid", file=source, n=len(lines), problems=lines))


def check_job(job: BatchJob, source: str) -> None:
    """Cross-check a validated job (files, categories, standard); raise one ConfigError."""
    problems = _semantic_problems(job)
    if problems:
        raise _invalid_job(source, problems)


def load_job(path: str | Path) -> BatchJob:
    """Read and validate a batch job file.

    Parameters
    ----------
    path : str or Path
        The YAML job file. Relative paths inside it are taken from its folder.

    Returns
    -------
    BatchJob
        The job, with every path made absolute.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or any key is invalid (unknown keys, wrong types,
        missing input files, unknown categories, speed profile or standard): one error
        naming the file and the key path of every problem.
    """
    job_path = Path(path)
    if job_path.is_dir():
        raise ConfigError(message("batch_job_is_folder", file=str(job_path)))
    data = load_yaml(job_path, "batch job file", ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(
            message("batch_job_not_mapping", file=str(job_path), kind=yaml_kind(data))
        )
    base_dir = job_path.resolve().parent
    try:
        job = BatchJob.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise _invalid_job(str(job_path), pydantic_problems(exc)) from None
    check_job(job, str(job_path))
    return job
