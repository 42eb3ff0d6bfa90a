"""Forge settings: forge.yaml, then FORGE_* environment variables, then explicit overrides."""

import os
import urllib.parse
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MODEL = "default"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Parsing(_Section):
    ignore_dirs: list[str] = [".obsidian", ".trash", ".git", "templates", "attachments"]
    max_note_kb: int = 2048


class Extraction(_Section):
    # Strong signals anywhere in a note: a reflection tag, a phrase, a free-writing section.
    reflection_tags: list[str] = [
        "reflection",
        "insight",
        "learning",
        "decision",
        "takeaway",
        "realization",
        "gratitude",
    ]
    phrase_patterns: list[str] = [
        "looking back",
        "i realize",
        "i realise",
        "i wonder",
        "in hindsight",
        "i learned",
    ]
    sections: list[str] = [  # headings (any level, wikilinked or not) over free writing
        "journal",
        "diary",
        "evening review",
        "morning pages",
        "today",
        "thoughts",
        "notes",
        "day in short",
        "gratitude",
        "wins",
        "lessons",
        "reflections",
        "reflection",
        "learnings",
        "takeaways",
        "insights",
    ]
    prose_min_score: int = 3  # prose elsewhere is taken from this score (see forge explain)
    templates_folder: str = "Templates"  # in the vault; lines its templates wrote are not kept
    # Not the person's words: imports, clippings, highlights.
    imported_folders: list[str] = [
        "Readwise",
        "Kindle",
        "Clippings",
        "Omnivore",
        "Highlights",
        "Snipd",
        "Web Clips",
    ]
    imported_keys: list[str] = ["source", "url", "source_url", "full_title", "asin"]
    imported_categories: list[str] = ["articles", "books", "tweets", "podcasts"]
    imported_headings: list[str] = ["highlights"]
    meeting_tags: list[str] = ["meeting", "meetings"]  # what others said, noted by you
    my_names: list[str] = []  # your names as `author:` gives them; any other author is not you
    private_tags: list[str] = ["private"]  # and `private: true`: such notes are never extracted
    skip_drafts: bool = True  # posts with `draft: true`


class Datasets(_Section):
    files: list[Path] = []
    mapping: dict[str, str] = {}


class Curation(_Section):
    min_tokens: int = 12
    max_tokens: int = 384
    near_duplicate_threshold: float = Field(default=0.8, ge=0.3, le=0.95)  # MinHash LSH: <= 0.95
    review_file: Path = Path("review.yaml")
    forget_file: Path = Path("forgotten.yaml")
    val_fraction: float = 0.15
    redact_pii: bool = False
    min_examples: int = 50
    seed: int = 42


Auto = Literal["auto"]


class Training(_Section):
    max_steps: int | Auto = "auto"  # "auto": epochs x train examples / effective batch
    epochs: float = Field(default=3, gt=0)  # passes over the training set when max_steps is auto
    # 25: with export, evaluation and deploy after it, a real vault's nightly run fits half an hour.
    time_budget_min: float = Field(default=25, ge=0)  # stop where the pace says none fit; 0: off
    batch_size: int | Auto = "auto"  # "auto": from the plan (hardware and data)
    grad_accum: int | Auto = "auto"
    learning_rate: float = 2e-4
    lora_r: int = 16
    lora_alpha: int = 32
    max_length: int | Auto = "auto"
    threads: int = 0
    memory_limit_mb: int = Field(default=0, ge=0)
    seed: int = 42
    checkpoint_every: int | Auto = "auto"  # "auto": a tenth of the run, at least 5 steps
    early_stopping_patience: int = 3
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    gradient_checkpointing: bool | Auto = "auto"
    load_in_4bit: bool | Auto = "auto"
    warm_start_limit: int = Field(default=6, ge=0)  # warm starts in a row; 0: always from scratch
    warm_replay: float = Field(default=4, ge=0)  # old examples replayed per new one, warm


class Export(_Section):
    gguf_types: list[str] = ["f16", "q8_0", "q4_k_m"]
    serve_type: str = "q8_0"
    score_examples: int = Field(default=48, ge=0)  # val examples each GGUF is scored on; 0: all


class Serving(_Section):
    host: str = "127.0.0.1"
    port: int = 8765
    n_ctx: int = 2048
    threads: int = 0
    max_tokens: int = Field(default=512, ge=1)  # a reply's default and ceiling, in tokens
    max_body_kb: int = Field(default=256, ge=1)  # the largest request body accepted
    allowed_origins: list[str] = []  # web pages (scheme://host[:port]) that may call the API
    allowed_hosts: list[str] = []  # Host names accepted besides loopback and the bound address


class Automation(_Section):
    nightly_cron: str = "0 3 * * *"
    timezone: str = "UTC"
    sensor_interval_s: int = 300


class Gemini(_Section):
    model: str = Field(default="gemini-2.5-flash", min_length=1)
    share_notes: bool = False  # note text is sent only when true (redacted and capped)
    base_url: str = ""  # a proxy, or the tests' fake server; empty: Google's endpoint
    timeout_s: float = 30
    retries: int = Field(default=3, ge=0, le=10)
    backoff_s: float = 1.0
    max_samples: int = Field(default=20, ge=0)  # examples per request, at most
    max_bytes: int = Field(default=16000, ge=1000)  # note text per request, at most
    max_questions_per_run: int = Field(default=200, ge=0)  # new reflections given a Gemini question

    @field_validator("base_url")
    @classmethod
    def _https_unless_loopback(cls, url: str) -> str:
        """The API key travels in a header: only over https, or to this machine (tests)."""
        parsed = urllib.parse.urlsplit(url)
        loopback = parsed.hostname in ("localhost", "127.0.0.1", "::1")
        if url and not (parsed.scheme == "https" or (parsed.scheme == "http" and loopback)):
            raise ValueError("gemini.base_url must be https:// (or http:// on localhost)")
        return url


class Docker(_Section):
    launcher: Literal["auto", "docker", "subprocess"] = "auto"  # auto: Docker for a GPU
    image: str = "auto"  # auto: forge:<arch> of the detected GPU; or any local image
    python: str = "python3"  # the interpreter inside the image
    mounts: list[Path] = []  # more host paths the container sees (read-only, same path)


class Evaluation(_Section):
    questions: int = Field(default=48, ge=1)  # answers per model; a smaller val split in rounds
    max_tokens: int = Field(default=96, ge=8)  # a longer answer counts as one that never stopped
    temperature: float = Field(default=0.8, ge=0, le=2)  # answers sampled as in a chat; 0: greedy
    stop_margin: float = Field(default=0.25, ge=0, le=1)  # stop rate allowed below the base's
    recall_samples: int = Field(default=8, ge=1)  # training answers probed for verbatim recall
    recall_prefix_tokens: int = Field(default=16, ge=1)  # the answer's opening given as prompt
    recall_tokens: int = Field(default=32, ge=4)  # greedy tokens compared with the true rest
    verbatim_tokens: int = Field(default=24, ge=1)  # this many in a row reproduced is a leak
    max_verbatim_share: float = Field(default=0.25, ge=0, le=1)  # leaks allowed, as a share
    allow_pii: bool = False  # true: an email, phone or URL of the vault in answers is allowed

    @model_validator(mode="after")
    def _a_leak_fits_the_probe(self) -> "Evaluation":
        if self.verbatim_tokens > self.recall_tokens:
            raise ValueError("evaluation.verbatim_tokens must be at most evaluation.recall_tokens")
        return self


class Registry(_Section):
    keep_versions: int = 5


class Settings(_Section):
    vault: Path = Path("examples/vault")
    home: Path = Path(".forge")
    cache_dir: Path | None = None
    base_model: str = DEFAULT_MODEL
    system_prompt: str = (
        "You are a reflective journaling companion. Answer in the first person, in the calm, "
        "honest voice of the journal's author."
    )
    parsing: Parsing = Parsing()
    extraction: Extraction = Extraction()
    datasets: Datasets = Datasets()
    curation: Curation = Curation()
    training: Training = Training()
    export: Export = Export()
    evaluation: Evaluation = Evaluation()
    registry: Registry = Registry()
    serving: Serving = Serving()
    automation: Automation = Automation()
    gemini: Gemini = Gemini()
    docker: Docker = Docker()
    smoke_prompt: str = "Looking back on this month, what have I learned about my mornings?"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def registry_dir(self) -> Path:
        return self.home / "registry"

    @property
    def cache(self) -> Path:
        return self.cache_dir or self.home / "cache"

    @property
    def models_dir(self) -> Path:
        return self.cache / "models"

    @property
    def tools_dir(self) -> Path:
        return self.cache / "tools"


class ConfigError(ValueError):
    """A configuration value is missing or wrong."""


def config_path() -> Path:
    """The forge.yaml in use: FORGE_CONFIG, else the project's own."""
    return Path(os.environ.get("FORGE_CONFIG", PROJECT_ROOT / "forge.yaml")).resolve()


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read forge.yaml, apply FORGE_* variables and dotted-key overrides, resolve paths."""
    path = path or config_path()
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML ({exc}); fix the file.") from exc
    for dotted, value in _env_overrides(Settings).items():
        _set_dotted(raw, dotted, value)
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, yaml.safe_load(value) if isinstance(value, str) else value)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"Invalid Forge settings in {path} or FORGE_* variables: {exc}") from exc
    base = path.parent
    settings.vault = (base / settings.vault.expanduser()).resolve()
    settings.home = (base / settings.home.expanduser()).resolve()
    curation = settings.curation
    curation.review_file = (base / curation.review_file.expanduser()).resolve()
    curation.forget_file = (base / curation.forget_file.expanduser()).resolve()
    settings.datasets.files = [(base / f.expanduser()).resolve() for f in settings.datasets.files]
    settings.docker.mounts = [(base / m.expanduser()).resolve() for m in settings.docker.mounts]
    if settings.cache_dir is not None:
        settings.cache_dir = (base / settings.cache_dir.expanduser()).resolve()
    if settings.home.is_relative_to(settings.vault):
        raise ConfigError(
            f"FORGE_HOME {settings.home} is inside the vault {settings.vault}, so Forge's own "
            "files would be read as notes; set FORGE_HOME (or home in forge.yaml) outside it."
        )
    local_model = base / settings.base_model
    if settings.base_model != DEFAULT_MODEL and local_model.exists():
        settings.base_model = str(local_model.resolve())
    return settings


def env_name(dotted: str) -> str:
    """The environment variable that overrides a dotted settings key."""
    return "FORGE_" + dotted.replace(".", "_").upper()


def _env_overrides(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.update(_env_overrides(annotation, dotted + "."))
        elif (value := os.environ.get(env_name(dotted))) is not None:
            found[dotted] = (
                value if annotation in (str, Path, Path | None) else yaml.safe_load(value)
            )
    return found


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
