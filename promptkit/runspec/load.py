"""One call that checks a spec whole: its method expanded into the stages it runs (once), every path it
reads inside what it may read. The result is the spec itself, carrying its expansion: the builder, the
experiments and the command line take it from there, and nothing expands it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, overload

from pydantic import Field

from promptkit.errors import PromptkitError
from promptkit.runspec.files import read_spec_file, set_dotted, validate
from promptkit.runspec.methods import expand_method
from promptkit.runspec.models import PipelineSpec, RunSpec
from promptkit.runspec.read_policy import ReadPolicy, check_spec
from promptkit.stages.framework.samples import closing_stage
from promptkit.tasks import TaskDefinition, read_definition


def expand(spec: PipelineSpec, task: TaskDefinition | None = None) -> PipelineSpec:
    """The spec with its method written out as the pipeline it runs (what spec.resolved.yaml holds)."""
    data: dict[str, Any] = spec.model_dump(mode="json", exclude_none=True)  # a checked spec's expansion is never dumped
    if spec.method is not None:
        stages, extractor = expand_method(spec.method, task or read_definition(spec.task.name), spec.extractor)
        data.pop("method")
        data.update(name=spec.label, pipeline=stages, extractor=extractor)
    stages = data["pipeline"]
    split = [i for i, s in enumerate(stages) if s.get("n", 1) > 1]
    if len(split) > 1:
        raise PromptkitError(f"pipeline.{split[1]}: only one stage may draw n > 1 samples (pipeline.{split[0]} does)")
    closing = closing_stage(stages)
    if closing is not None:
        stages.append(closing)  # samples are joined before scoring; the resolved spec shows how
    plain = RunSpec if isinstance(spec, RunSpec) else PipelineSpec
    return validate(data, "the expanded spec", plain)


class CheckedPipeline(PipelineSpec):
    """A pipeline spec checked whole (see `check`)."""

    resolved: PipelineSpec = Field(exclude=True, description="the spec as it runs: its method expanded into stages")


class CheckedSpec(RunSpec):
    """A run spec checked whole (see `check`): a RunSpec, with the expansion it runs."""

    resolved: RunSpec = Field(exclude=True, description="the spec as it runs: its method expanded into stages")


@overload
def check(
    spec: RunSpec,
    task: TaskDefinition | None = None,
    *,
    policy: ReadPolicy | None = None,
    api_key_env: str | None = None,
) -> CheckedSpec: ...


@overload
def check(
    spec: PipelineSpec,
    task: TaskDefinition | None = None,
    *,
    policy: ReadPolicy | None = None,
    api_key_env: str | None = None,
) -> CheckedPipeline | CheckedSpec: ...


def check(
    spec: PipelineSpec,
    task: TaskDefinition | None = None,
    *,
    policy: ReadPolicy | None = None,
    api_key_env: str | None = None,
) -> CheckedPipeline | CheckedSpec:
    """The spec, expanded (with `task`'s file, else the one its task names) and, under a read policy, every path
    it reads checked; a spec already checked is returned as it is. A `CheckedSpec` for a RunSpec."""
    if isinstance(spec, CheckedPipeline | CheckedSpec):
        return spec
    expansion = expand(spec, task)
    if policy is not None and isinstance(expansion, RunSpec):
        check_spec(expansion, policy, api_key_env)
    fields = {name: getattr(spec, name) for name in type(spec).model_fields}
    checked: type[CheckedPipeline | CheckedSpec] = CheckedSpec if isinstance(spec, RunSpec) else CheckedPipeline
    # The fields as given (model_construct keeps which were set: the summary records only those options).
    return checked.model_construct(_fields_set={*spec.model_fields_set, "resolved"}, **fields, resolved=expansion)  # type: ignore[arg-type]


def resolved(spec: PipelineSpec, task: TaskDefinition | None = None) -> PipelineSpec:
    """The stages a spec runs: its own expansion when it was checked, else expanded now."""
    return check(spec, task).resolved


def load_spec(path: str | Path, assignments: Sequence[str] = (), *, allow: Iterable[str | Path] = ()) -> CheckedSpec:
    """A spec file, with `field=value` assignments, checked whole: it reads only from its own folder, the
    shipped templates and the paths in `allow`."""
    data = read_spec_file(path)
    for assignment in assignments:
        set_dotted(data, assignment)
    return check(validate(data, str(path)), policy=ReadPolicy.for_spec(path, allow))
