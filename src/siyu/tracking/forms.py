"""What the tracked page posts back: the consent choice and the heartbeats."""

from django import forms


class ConsentForm(forms.Form):
    visit = forms.CharField(max_length=80)
    choice = forms.ChoiceField(choices=[("y", "y"), ("n", "n")])


class BeatForm(forms.Form):
    visit = forms.CharField(max_length=80)
    # An hour at most is taken as a number at all; opens.beat then counts no more than a beat's worth of it.
    seconds = forms.IntegerField(min_value=0, max_value=3600)
    depth = forms.IntegerField(min_value=0, max_value=100)
    final = forms.BooleanField(required=False)
