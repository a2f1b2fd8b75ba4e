"""Import every capability's models so ``Base.metadata`` knows all tables."""

from clameur.analysis import models as analysis_models
from clameur.care import models as care_models
from clameur.core import models as core_models
from clameur.detection import campaign_models
from clameur.detection import models as detection_models
from clameur.mentions import models as mentions_models
from clameur.pipeline import models as pipeline_models
from clameur.sources import models as sources_models
from clameur.tenancy import models as tenancy_models

MODULES = (
    tenancy_models,
    mentions_models,
    analysis_models,
    care_models,
    detection_models,
    campaign_models,
    core_models,
    pipeline_models,
    sources_models,
)
