"""The content checker as an API operation: what a text would be blocked or flagged for before it is sent."""

from ninja import Field, Router, Schema
from pydantic import StrictStr

from siyu.content import compliance

router = Router(tags=["content"])


class CheckIn(Schema):
    text: StrictStr = Field(min_length=1, max_length=compliance.MAX_TEXT,
                            description=f"the text to check, 1 to {compliance.MAX_TEXT} characters")


class FindingOut(Schema):
    term: str = Field(description="the text as written: text[start:end]")
    start: int = Field(description="offset of the first character, in Unicode code points")
    end: int = Field(description="offset after the last character")
    rule: str = Field(description=" | ".join(compliance.RULE_LABELS))
    severity: str = Field(description="block: must not be sent | flag: a person should look first")


class CheckOut(Schema):
    findings: list[FindingOut]


@router.post("/content/check", response=CheckOut)
def check_content(request, payload: CheckIn):
    """Check a text with the advertising-law terms, medical and financial claims, the caller's organization's own
    sensitive words and personal data (mobile and ID numbers). Offsets count Unicode code points (a JavaScript
    client converts with ``Array.from(text)``) of the text after the API's input cleaning, which drops
    bidirectional control characters. Nothing is stored."""
    findings = compliance.check(payload.text, org=request.auth.org_id)
    return {"findings": [finding.as_dict() for finding in findings]}
