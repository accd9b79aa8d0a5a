"""The report job: what ``radius report`` analyses and which sites it suggests, as YAML.

A job file holds the analysis inputs and settings of ``radius analyze`` and a list of siting
requests; relative paths are taken from the job file's folder. Every key is optional
except where a siting request needs a count::

    title: 新街口片区社区生活圈评估
    lang: zh
    network: ../../shared/data/cn_nanjing_xinjiekou.osm
    standard: national
    area_type: old
    sites:
      - {category: convenience_store, count: 2}
      - {category: elderly_care, objective: set_cover, min_spacing_m: 300}

The same job can be given with flags (``radius report --site convenience_store:2 ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radius._batch_job import JobPath, SiteRequest
from radius._errors import ConfigError, InputError
from radius.config import (
    DEFAULT_THRESHOLD_BASIS,
    Loc,
    ThresholdBasis,
    key_problem,
    load_categories,
    pydantic_problems,
    validate_file,
)
from radius.i18n import Language, Message, message
from radius.pipeline import AnalyzeConfig, DistrictMode, ReachConfig
from radius.provision import ProvisionMethod
from radius.sample import default_network_path
from radius.snap import DEFAULT_MAX_SNAP_M

__all__ = ["ReportJob", "SiteRequest", "load_report_job", "parse_site_flag", "site_request"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportJob(_Frozen):
    """Everything ``radius report`` needs: inputs, settings, siting requests, language.

    Attributes
    ----------
    title : str, optional
        Report title (default: the language's standard title).
    author : str, optional
        Who prepared the report (the cover's author field; blank to sign by hand).
    study_area : str, optional
        The study area named on the cover (default: the network file and its units).
    lang : {"zh", "en"}
        Report language.
    network, facilities, population, districts, subdistricts : Path
        Inputs as for ``radius analyze`` (default network: the sample district).
    group_rasters : dict of str to tuple of Path
        Age/sex rasters per demand group, as ``--group-raster`` (bands summed).
    facilities_crs : str, optional
        ``gcj02`` or ``bd09`` for inventories from Chinese map services, or a CRS.
    district_mode, hexagon_size_m, standard, area_type, method, household_size
        Provision settings as for ``radius analyze``.
    categories : tuple of str, optional
        Category ids (default: all).
    speed_profile, speed_m_s, threshold_basis, max_snap_m, crs
        Reach settings as for ``radius reach``.
    sites : tuple of SiteRequest
        Siting runs whose suggestions go into the report.
    """

    title: str | None = None
    author: str | None = None
    study_area: str | None = None
    lang: Language = "zh"
    network: JobPath | None = None
    facilities: JobPath | None = None
    facilities_crs: str | None = None
    population: tuple[JobPath, ...] = ()
    districts: JobPath | None = None
    subdistricts: JobPath | None = None
    group_rasters: dict[str, tuple[JobPath, ...]] = Field(default_factory=dict)
    district_mode: DistrictMode = "blocks"
    hexagon_size_m: float = Field(default=500.0, ge=10, le=20_000, allow_inf_nan=False)
    standard: str = "national"
    area_type: Literal["new", "old"] | None = None
    method: ProvisionMethod = "2sfca"
    household_size: float | None = Field(default=None, gt=0, le=20, allow_inf_nan=False)
    categories: tuple[str, ...] | None = None
    speed_profile: str | None = None
    speed_m_s: float | None = Field(default=None, gt=0.1, lt=5.0, allow_inf_nan=False)
    threshold_basis: ThresholdBasis = DEFAULT_THRESHOLD_BASIS
    max_snap_m: float = Field(default=DEFAULT_MAX_SNAP_M, gt=0, le=5000, allow_inf_nan=False)
    crs: str = "auto"
    sites: tuple[SiteRequest, ...] = ()

    def analyze_config(self) -> AnalyzeConfig:
        """The analysis settings of the job (siting categories included)."""
        categories = self.categories
        if categories is not None:
            extra = [s.category for s in self.sites if s.category not in categories]
            categories = (*categories, *dict.fromkeys(extra))
        return AnalyzeConfig(
            reach=ReachConfig(
                network=self.network or default_network_path(),
                facilities=self.facilities,
                categories=categories,
                speed_profile=self.speed_profile,
                speed_m_s=self.speed_m_s,
                threshold_basis=self.threshold_basis,
                max_snap_m=self.max_snap_m,
                crs=self.crs,
                facilities_crs=self.facilities_crs,
                service_areas=False,
            ),
            population=self.population,
            districts=self.districts,
            district_mode=self.district_mode,
            hexagon_size_m=self.hexagon_size_m,
            standard=self.standard,
            area_type=self.area_type,
            method=self.method,
            household_size=self.household_size,
            subdistricts=self.subdistricts,
            group_rasters=tuple(
                (group, tuple(paths)) for group, paths in self.group_rasters.items()
            ),
        )

    def check(self, source: str) -> None:
        """Raise one ConfigError naming ``source`` for unknown categories and missing files."""
        known = {c.id for c in load_categories()}
        files: list[tuple[str, Path | None]] = [
            ("network", self.network),
            ("facilities", self.facilities),
            ("districts", self.districts),
            ("subdistricts", self.subdistricts),
            *(
                (f"group_rasters.{group}.{k}", path)
                for group, paths in self.group_rasters.items()
                for k, path in enumerate(paths)
            ),
            *((f"population.{k}", path) for k, path in enumerate(self.population)),
            *((f"sites.{k}.candidates", s.candidates) for k, s in enumerate(self.sites)),
        ]
        problems: list[tuple[Loc, Message]] = [
            (_loc_of(key), message("batch_file_not_found", path=str(path)))
            for key, path in files
            if path is not None and not path.exists()
        ]
        problems += [
            (("categories", k), message("report_job_unknown_category", value=repr(cid)))
            for k, cid in enumerate(self.categories or ())
            if cid not in known
        ]
        problems += [
            (
                ("sites", k, "category"),
                message("report_job_unknown_category", value=repr(s.category)),
            )
            for k, s in enumerate(self.sites)
            if s.category not in known
        ]
        if problems:
            lines = tuple(key_problem(loc, problem) for loc, problem in problems)
            raise ConfigError(
                message(
                    "report_job_invalid",
                    file=source,
                    problems=lines,
                    known=", ".join(sorted(known)),
                )
            )


def _loc_of(key: str) -> Loc:
    """``"population.0"`` -> ``("population", 0)``."""
    return tuple(int(part) if part.isdigit() else part for part in key.split("."))


def load_report_job(path: str | Path) -> ReportJob:
    """Read and validate a report job file.

    Parameters
    ----------
    path : str or Path
        The YAML job file; relative paths inside it are taken from its folder.

    Raises
    ------
    ConfigError
        If the file is missing or not YAML, or a key is unknown or invalid: one error
        naming the file and the key path of every problem.
    """
    job_path = Path(path)
    if job_path.is_dir():
        raise ConfigError(message("report_job_is_folder", file=str(job_path)))
    job = validate_file(ReportJob, job_path, context={"base_dir": job_path.resolve().parent})
    job.check(str(job_path))
    return job


def site_request(source: str, **fields: object) -> SiteRequest:
    """A :class:`SiteRequest` from command-line values; problems raise an InputError.

    Parameters
    ----------
    source : str
        What gave the values, for the message (e.g. ``"radius site"``).
    **fields
        The request's fields.
    """
    try:
        return SiteRequest.model_validate(fields)
    except ValidationError as exc:
        lines = tuple(
            key_problem(loc, problem) if loc else message("site_problem_line", problem=problem)
            for loc, problem in pydantic_problems(exc)
        )
        raise InputError(message("site_request_invalid", source=source, problems=lines)) from None


def parse_site_flag(text: str) -> SiteRequest:
    """``"CATEGORY:COUNT"`` (maximal covering) or ``"CATEGORY"`` (set covering).

    Raises
    ------
    InputError
        If the count is not a positive whole number.
    """
    category, _, count = text.partition(":")
    if not count:
        return site_request(f"--site {text}", category=category.strip(), objective="set_cover")
    try:
        number = int(count)
    except ValueError:
        number = 0
    if number < 1:
        raise InputError(message("site_flag_count", flag=f"--site {text}"))
    return site_request(f"--site {text}", category=category.strip(), count=number)
