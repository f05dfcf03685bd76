"""The audit log moves to its own app (issue 12: portal and tenants no longer import each other).

Only Django's idea of where the model lives changes; the table keeps every row and is renamed
to audit_auditevent (audit/migrations/0001 takes the model over in the migration state).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_operator_role_upn_audit_role"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="auditevent", table="audit_auditevent"),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="auditevent", name="audit_action_time"),
                migrations.DeleteModel(name="AuditEvent"),
            ],
        ),
    ]
