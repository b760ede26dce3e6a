"""``manage.py deploy_nginx``: print (or write) the nginx configuration of a production
deployment for this installation (README, "Production deployment"; ``tenants.deploy``)."""

from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management.base import BaseCommand, CommandError

from tenants.deploy import BROTLI_MODULE, DeployConfigError, NginxOptions, nginx_config


class Command(BaseCommand):
    help = (
        "Render deploy/nginx/lectern.conf for this installation: TLS, HTTP/2, HSTS, "
        "compression, rate limits, WebSockets, the uvicorn upstream and media by "
        "X-Accel-Redirect (set MEDIA_ACCEL_REDIRECT to the same --accel-prefix)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--server-name",
            action="append",
            dest="server_names",
            help="a host name served (repeat; default: PLATFORM_DOMAIN and *.PLATFORM_DOMAIN)",
        )
        parser.add_argument(
            "--upstream",
            action="append",
            dest="upstreams",
            help="a uvicorn worker, host:port or unix:/path (repeat; default 127.0.0.1:8001 "
            "and 127.0.0.1:8002)",
        )
        parser.add_argument("--certificate", required=True, help="TLS certificate (PEM chain)")
        parser.add_argument("--certificate-key", required=True, help="its private key (PEM)")
        parser.add_argument("--https-listen", default="443")
        parser.add_argument("--http-listen", default="80")
        parser.add_argument(
            "--static-root", default=str(settings.STATIC_ROOT or settings.BASE_DIR / "staticfiles")
        )
        parser.add_argument("--media-root", default=str(settings.MEDIA_ROOT))
        parser.add_argument(
            "--accel-prefix", default=settings.MEDIA_ACCEL_REDIRECT or "/_lectern_media/"
        )
        parser.add_argument(
            "--s3-endpoint",
            default=None,
            help="S3 endpoint scheme://host[:port] (default: the storage's endpoint on S3)",
        )
        parser.add_argument("--resolver", default="", help="DNS server for a named S3 endpoint")
        parser.add_argument("--cache-dir", default="/var/cache/nginx/lectern")
        parser.add_argument("--cache-size", default="10g")
        parser.add_argument("--cache-valid", default="1h")
        parser.add_argument("--api-rate", default="20r/s")
        parser.add_argument("--api-burst", type=int, default=40)
        parser.add_argument("--signin-rate", default="10r/m")
        parser.add_argument("--signin-burst", type=int, default=5)
        parser.add_argument("--acme-root", default="/var/www/acme")
        parser.add_argument("--access-log", default="/var/log/nginx/lectern.access.log")
        parser.add_argument(
            "--connect-timeout", default="2s", help="a worker must accept within this (nginx time)"
        )
        parser.add_argument(
            "--read-timeout",
            default="60s",
            help="a worker must answer within this, else an idempotent request goes to the next",
        )
        parser.add_argument(
            "--brotli",
            choices=("auto", "on", "off"),
            default="auto",
            help=f"brotli compression (auto: on when {BROTLI_MODULE} exists)",
        )
        parser.add_argument(
            "--standalone",
            metavar="PREFIX",
            default="",
            help="write a whole nginx.conf with its pid, logs and temporary files in PREFIX",
        )
        parser.add_argument("--output", "-o", default="", help="write here instead of stdout")

    def handle(self, *args, **options):
        domain = settings.PLATFORM_DOMAIN
        s3_endpoint = options["s3_endpoint"]
        if s3_endpoint is None:
            s3_endpoint = ""
            if not isinstance(default_storage, FileSystemStorage):
                url = urlsplit(default_storage.url("x"))
                s3_endpoint = f"{url.scheme}://{url.netloc}"
        brotli = {"on": True, "off": False, "auto": BROTLI_MODULE.exists()}[options["brotli"]]
        # Every option named like a field of NginxOptions is passed as it is.
        fields = NginxOptions.__dataclass_fields__.keys() - {"server_names", "upstreams"}
        config = NginxOptions(
            **{name: options[name] for name in fields if name in options},
            server_names=options["server_names"] or [domain, f"*.{domain}"],
            upstreams=options["upstreams"] or ["127.0.0.1:8001", "127.0.0.1:8002"],
        )
        config.s3_endpoint = s3_endpoint
        config.brotli = brotli
        try:
            text = nginx_config(
                config,
                standalone=bool(options["standalone"]),
                prefix=options["standalone"],
            )
        except DeployConfigError as exc:
            raise CommandError(str(exc)) from exc
        if options["output"]:
            Path(options["output"]).write_text(text)
            self.stdout.write(f"Wrote {options['output']}.")
        else:
            self.stdout.write(text, ending="")
