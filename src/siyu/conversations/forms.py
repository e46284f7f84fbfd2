from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from siyu.conversations.models import ChatAlert
from siyu.conversations.services import NOTE_MAX

MAX_SPAN_DAYS = 366


class ArchiveFilter(forms.Form):
    q = forms.CharField(label=_("搜索消息"), required=False, max_length=50)
    staff = forms.TypedChoiceField(label=_("员工"), required=False, coerce=int, empty_value=None)
    start = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, staff_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].choices = [("", _("全部员工")), *staff_choices]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("结束日期不能早于开始日期。"))
        elif start and end and (end - start).days > MAX_SPAN_DAYS:
            self.add_error("end", _("一次最多查看一年的消息。"))
        return data

    def span(self) -> tuple[datetime | None, datetime | None]:
        """The chosen dates as a half-open span of aware datetimes in the console's time zone."""
        zone = timezone.get_current_timezone()
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        return (datetime.combine(start, time.min, zone) if start else None,
                datetime.combine(end + timedelta(days=1), time.min, zone) if end else None)


class AlertFilter(forms.Form):
    review = forms.ChoiceField(label=_("处理结果"), required=False,
                               choices=[("", _("全部")), *ChatAlert.Review.choices])
    kind = forms.ChoiceField(label=_("类型"), required=False, choices=[("", _("全部类型")), *ChatAlert.Kind.choices])


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(label=_("处理结果"), choices=[
        (ChatAlert.Review.CONFIRMED, ChatAlert.Review.CONFIRMED.label),
        (ChatAlert.Review.DISMISSED, ChatAlert.Review.DISMISSED.label)])
    note = forms.CharField(label=_("处理备注"), required=False, max_length=NOTE_MAX)
