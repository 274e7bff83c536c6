from django.db import migrations, models


def relabel_as_usd(apps, schema_editor):
    # The figures were always US dollars (nothing ever converted); only the label was wrong.
    apps.get_model("consortium", "Consortium").objects.exclude(currency="USD").update(currency="USD")


class Migration(migrations.Migration):
    dependencies = [
        ("consortium", "0003_membership_invited"),
    ]

    operations = [
        migrations.RunPython(relabel_as_usd, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="consortium",
            name="currency",
            field=models.CharField(choices=[("USD", "US dollar")], default="USD", max_length=3),
        ),
    ]
