import siyu.privacy.fields
from django.db import migrations


def encrypt_stored_params(apps, schema_editor):
    """Jobs stored before this migration hold their arguments in plaintext: encrypt them in place (raw SQL, the
    model would try to decrypt them)."""
    from siyu.privacy.keyring import is_token
    from siyu.privacy.keys import keyring

    ring = keyring()
    connection = schema_editor.connection
    table = connection.ops.quote_name("core_job")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, params FROM {table}")
        for pk, params in cursor.fetchall():
            if not is_token(params):
                cursor.execute(f"UPDATE {table} SET params = %s WHERE id = %s",
                               [ring.encrypt(params or "{}", context=b"core.job.params"), pk])


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0003_domain_events'),
    ]

    operations = [
        migrations.AlterField(
            model_name='job',
            name='params',
            field=siyu.privacy.fields.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.RunPython(encrypt_stored_params, migrations.RunPython.noop),
    ]
