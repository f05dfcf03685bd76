"""The directory browser becomes its own app (issue 12): its two models move there.

The tables keep every row; they are renamed to directory_reportrun and directory_reportrow
here, and directory/migrations/0001 takes the models over in the migration state.
tests/directory/test_migration.py proves it on a database with rows.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0002_submission_key_request_people"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="reportrun", table="directory_reportrun"),
                migrations.AlterModelTable(name="reportrow", table="directory_reportrow"),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="reportrow", name="reportrow_order"),
                migrations.RemoveIndex(model_name="reportrow", name="reportrow_kind"),
                migrations.RemoveIndex(model_name="reportrun", name="report_latest"),
                migrations.RemoveConstraint(
                    model_name="reportrun", name="report_one_running_per_subject"
                ),
                migrations.RemoveField(model_name="reportrun", name="requested_by"),
                migrations.RemoveField(model_name="reportrun", name="tenant"),
                migrations.DeleteModel(name="ReportRow"),
                migrations.DeleteModel(name="ReportRun"),
            ],
        ),
    ]
