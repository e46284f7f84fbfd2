"""What other capabilities hook into: a customer was added (channels send the welcome message), a relation
was lost (reminders are cancelled, loss alerts go out)."""

from django.dispatch import Signal

# sender=Relation; kwargs: relation, state (str), welcome_code (str), event_time
relation_added = Signal()
# sender=Relation; kwargs: relation, reason ("deleted_by_customer" | "deleted_by_staff" | "transferred")
relation_lost = Signal()
