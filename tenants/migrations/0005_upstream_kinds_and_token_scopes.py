from django.db import migrations, models

import tenants.models


def scope_existing_tokens(apps, schema_editor):
    # Stored tokens are a cache: drop them rather than guess their scope (the next call
    # fetches a fresh one).
    apps.get_model("tenants", "TenantToken").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("tenants", "0004_known_people")]

    operations = [
        migrations.RenameField("tenant", "point_base_url", "api_url"),
        migrations.AlterField(
            model_name="tenant",
            name="api_url",
            field=models.CharField(
                help_text="Point: the address of this tenant's Syskit Point web app, as in the "
                "Point API docs' {{pointWebAppUrl}}/v1.0/sites (without /v1.0), e.g. "
                "https://contoso.syskit365demo.com. GT365: https://gt365api.atwork-it.com/api. "
                "Microsoft Graph: https://graph.microsoft.com/v1.0. Changing it re-reads the "
                "template catalogue.",
                max_length=300,
                validators=[tenants.models.validate_api_url],
                verbose_name="upstream API URL",
            ),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="point_app_id",
            field=models.UUIDField(
                blank=True,
                help_text="Point only: client ID of the Syskit Point API app; the token scope is "
                "<app id>/.default. GT365 and Microsoft Graph use a Graph token.",
                null=True,
                verbose_name="Point API app ID",
            ),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="provider",
            field=models.CharField(
                choices=[
                    ("point", "Syskit Point"),
                    ("gt365", "GT365"),
                    ("graph", "Microsoft Graph"),
                ],
                default="point",
                help_text="What the portal provisions through for this tenant.",
                max_length=20,
                verbose_name="upstream",
            ),
        ),
        migrations.RunPython(scope_existing_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="tenanttoken",
            name="tenant",
            field=models.ForeignKey(
                on_delete=models.deletion.CASCADE, related_name="tokens", to="tenants.tenant"
            ),
        ),
        migrations.AddField(
            model_name="tenanttoken",
            name="scope",
            field=models.CharField(default="", max_length=200),
        ),
        migrations.AddField(
            model_name="knownperson",
            name="licensed",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="tenanttoken",
            constraint=models.UniqueConstraint(
                fields=("tenant", "scope"), name="token_unique_per_scope"
            ),
        ),
    ]
