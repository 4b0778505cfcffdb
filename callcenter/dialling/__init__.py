"""The outbound dialling policy: which numbers a site may dial, for whom (issue 10)."""

from callcenter.dialling.classes import CLASSES, classify
from callcenter.dialling.policy import ORIGINS, Decision, allowed_classes, decide

__all__ = ["CLASSES", "ORIGINS", "Decision", "allowed_classes", "classify", "decide"]
