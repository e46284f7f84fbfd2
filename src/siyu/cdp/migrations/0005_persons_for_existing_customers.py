"""Every WeCom customer mirrored before persons existed gets its person, holding its external_userid, unionid and
remark phones. A remark phone another customer's person already holds is not linked: two WeCom customers are
never one person automatically, so the case waits in the review queue."""

from django.db import migrations

BATCH = 500


def persons_for_customers(apps, schema_editor):
    from siyu.cdp.identity import CAPS, normalize, value_index
    from siyu.cdp.merges import mask

    Customer = apps.get_model("customers", "Customer")
    CustomerPhone = apps.get_model("customers", "CustomerPhone")
    Person = apps.get_model("cdp", "Person")
    Identifier = apps.get_model("cdp", "Identifier")
    MergeReview = apps.get_model("cdp", "MergeReview")

    having = set(Person.objects.exclude(customer=None).values_list("customer_id", flat=True))
    pks = [pk for pk in Customer.objects.order_by("pk").values_list("pk", flat=True) if pk not in having]
    for start in range(0, len(pks), BATCH):
        chunk = list(Customer.objects.filter(pk__in=pks[start:start + BATCH]).order_by("pk"))
        persons = Person.objects.bulk_create([
            Person(org_id=c.org_id, customer_id=c.pk, first_seen_at=c.first_added_at, sources=["wecom"], traits={},
                   name="") for c in chunk])
        phones = {}
        for row in CustomerPhone.objects.filter(customer_id__in=[c.pk for c in chunk]).order_by("pk"):
            phones.setdefault(row.customer_id, []).append(row.phone)
        for customer, person in zip(chunk, persons, strict=True):
            wanted = [("external_userid", customer.external_userid)]
            if customer.unionid:
                wanted.append(("unionid", customer.unionid))
            wanted += [("phone", p) for p in phones.get(customer.pk, [])[:CAPS["phone"]]]
            for kind, raw in wanted:
                try:
                    normalized = normalize(kind, raw)
                except ValueError:
                    continue
                index = value_index(kind, "", normalized)
                holder = Identifier.objects.filter(org_id=customer.org_id, kind=kind, namespace="",
                                                   value_index=index).first()
                if holder is None:
                    Identifier.objects.create(org_id=customer.org_id, person=person, kind=kind, value=normalized,
                                              value_index=index, source="wecom")
                elif holder.person_id != person.pk:
                    review = MergeReview.objects.filter(org_id=customer.org_id, link_kind=kind, link_index=index,
                                                        guard="two_customers", status="pending").first()
                    if review is None:
                        MergeReview.objects.create(
                            org_id=customer.org_id, person_a_id=holder.person_id, person_b=person, link_kind=kind,
                            link_index=index, link_masked=mask(kind, normalized), guard="two_customers",
                            evidence=f"{kind} {mask(kind, normalized)} 同时出现在两位企业微信客户的资料中")
                    else:
                        review.occurrences += 1
                        review.save(update_fields=["occurrences"])


class Migration(migrations.Migration):

    dependencies = [
        ('cdp', '0004_oneid_merges_reviews_traits'),
        ('customers', '0005_tag_made_by_app'),
    ]

    operations = [
        migrations.RunPython(persons_for_customers, migrations.RunPython.noop),
    ]
