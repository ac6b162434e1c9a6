"""An account's state by its own rhythm, as the admin API shows it; the model from the provider's settings."""

from __future__ import annotations

from typing import Any

from analytics.queries import Assessment, ChurnModel
from idp.settings import Settings


def churn_model(settings: Settings) -> ChurnModel:
    """`analytics.queries.ChurnModel` of the `CANARY_CHURN_*` settings (checked when the settings were read)."""
    return ChurnModel(**settings.churn_parameters())  # type: ignore[arg-type]


def rhythm_dict(assessment: Assessment) -> dict[str, Any]:
    rhythm = assessment.rhythm
    return {
        "state": assessment.state,
        "score": assessment.score,
        "explanation": assessment.explanation,
        "silent_days": assessment.silent_days,
        "rhythm": None if rhythm is None else {
            "active_days": rhythm.active_days, "days_per_week": rhythm.days_per_week,
            "weekdays_only": rhythm.weekdays_only, "usual_gap": rhythm.usual_gap, "high_gap": rhythm.high_gap,
            "quiet_after": rhythm.quiet_after,
        },
    }
