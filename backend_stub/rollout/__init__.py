"""Canary rollouts with Argo Rollouts semantics: plans, analysis, the controller.

Errors::

    PlanError (ValueError)        a plan file that is missing, not YAML, or outside the supported subset
    RolloutError (Exception)      a command that does not fit the rollout's state (promote with none running)
"""

from backend_stub.rollout.analysis import AnalysisRun, MeasurementPhase, evaluate_condition
from backend_stub.rollout.controller import Rollout, RolloutController, RolloutError, RolloutPhase
from backend_stub.rollout.plan import (
    AnalysisSpec,
    MetricSpec,
    Pause,
    PlanError,
    RolloutPlan,
    SetWeight,
    load_plan,
)

__all__ = [
    "AnalysisRun",
    "AnalysisSpec",
    "MeasurementPhase",
    "MetricSpec",
    "Pause",
    "PlanError",
    "Rollout",
    "RolloutController",
    "RolloutError",
    "RolloutPhase",
    "RolloutPlan",
    "SetWeight",
    "evaluate_condition",
    "load_plan",
]
