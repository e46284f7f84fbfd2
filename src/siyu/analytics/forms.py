from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.console import forms as console_forms
from siyu.analytics import queries
from siyu.analytics.queries import MAX_SPAN_DAYS, StatsFilter
from siyu.orgs.models import Staff, Store

EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
GROUP_CHOICES = [
    ("detail", _("按日期 × 渠道 × 员工")),
    ("channel", _("按渠道")),
    ("staff", _("按员工")),
    ("day", _("按日期")),
]


class ChannelStatsForm(console_forms.Form):
    """The filters of the channel statistics page (and its export). Every choice is limited to what the viewer
    may see, so a hand-made URL naming someone else's staff member or store is a form error, not a leak."""

    start = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    state = forms.ChoiceField(label=_("渠道"), required=False)
    staff = forms.ModelChoiceField(label=_("员工"), queryset=Staff.objects.none(), required=False, empty_label=_("全部"))
    store = forms.ModelChoiceField(label=pgettext_lazy("singular", "门店"), queryset=Store.objects.none(), required=False,
                                   empty_label=_("全部"))
    partner = forms.TypedChoiceField(label=_("合作方"), required=False, coerce=int, empty_value=None)
    group = forms.ChoiceField(label=_("表格维度"), required=False, choices=GROUP_CHOICES)

    def __init__(self, data=None, *, viewer, **kwargs):
        super().__init__(data, **kwargs)
        self.viewer = viewer
        self.directory = queries.channel_directory(viewer.org_id)
        states = queries.channel_states(viewer, self.directory)
        self.fields["state"].choices = [("", _("全部"))] + [(s, self._state_label(s)) for s in states]
        self.fields["staff"].queryset = Staff.objects.visible_to(viewer).order_by("name", "userid")
        self.fields["store"].queryset = Store.objects.visible_to(viewer).order_by("code")
        offered = {s: self.directory[s] for s in states if s in self.directory}
        self.fields["partner"].choices = [("", _("全部"))] + [(str(pk), name) for pk, name in queries.partners(offered)]

    def _state_label(self, state: str) -> str:
        info = self.directory.get(state)
        return f"{info.name}（{state}）" if info and info.name else state

    def clean(self):
        data = super().clean()
        default_start, default_end = queries.default_range()
        start, end = data.get("start"), data.get("end")
        for name, value in (("start", start), ("end", end)):
            if value is not None and not EARLIEST <= value <= LATEST:
                self.add_error(name, _("日期需在 %(a)s 至 %(b)s 之间。") % {"a": EARLIEST, "b": LATEST})
        if self.errors:
            return data
        if start is None and end is None:
            start, end = default_start, default_end
        elif start is None:
            start = end - (default_end - default_start)
        elif end is None:
            end = min(default_end, start + (default_end - default_start))
            end = max(end, start)
        if end < start:
            self.add_error("end", _("结束日期不能早于开始日期。"))
        elif (end - start).days + 1 > MAX_SPAN_DAYS:
            self.add_error("end", _("一次最多统计 %(n)d 天。") % {"n": MAX_SPAN_DAYS})
        data["start"], data["end"] = start, end
        data["group"] = data.get("group") or "detail"
        return data

    def stats_filter(self) -> StatsFilter:
        data = self.cleaned_data
        return StatsFilter(
            start=data["start"], end=data["end"], state=data.get("state") or "",
            staff_id=data["staff"].pk if data.get("staff") else None,
            store_id=data["store"].pk if data.get("store") else None,
            partner_id=data.get("partner"),
        )


class ExportForm(ChannelStatsForm):
    format = forms.ChoiceField(label=_("格式"), choices=[("csv", "CSV"), ("xlsx", "Excel (.xlsx)")])
