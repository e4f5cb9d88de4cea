"""The sensor that evaluates every asset's automation condition (``gn_dagster.automation``)."""

from dagster import AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus

automation_sensor = AutomationConditionSensorDefinition(
    "golden_noise_automation",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    description="Evaluates every asset's automation condition (see gn_dagster.automation).",
)
