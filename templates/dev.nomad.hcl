# Development jobspec of one space: raw_exec runs the in-repo Nextcloud stand-in with the same
# settings as the official image (POSTGRES_*, NEXTCLOUD_*), the same service registration, the
# same health check and the same data volume as production. No Docker engine is needed.
#
# Filled by package templates with double-square-bracket placeholders; {{ }} blocks are Nomad templates, rendered
# on the client. Secrets are read from the job's own Nomad Variable at [[ .VariablePath ]] into an
# env file under secrets/: they are never written in this file.
job [[ hcl .JobID ]] {
[[- if .Namespace ]]
  namespace = [[ hcl .Namespace ]]
[[- end ]]
[[- if .Region ]]
  region = [[ hcl .Region ]]
[[- end ]]
  type        = "service"
  datacenters = ["*"]

  meta {
    spaces_space_id   = "[[ .SpaceID ]]"
    spaces_generation = "[[ .Generation ]]"
    spaces_slug       = [[ hcl .Slug ]]
  }

  update {
    health_check      = "checks"
    min_healthy_time  = [[ hcl .MinHealthy ]]
    healthy_deadline  = "5m"
    progress_deadline = "10m"
    auto_revert       = false
  }

  group "nextcloud" {
    count = 1

    network {
      port "http" {}
    }

    # The space's data volume, as in production: a Nomad dynamic host volume the provisioner
    # creates before it registers the job. raw_exec has no filesystem isolation and cannot mount
    # it (no volume_mount below): this block makes Nomad place the job on the node holding the
    # volume and claim it for this one writer, and the stand-in is pointed at the volume's host
    # path, which the provisioner puts in the job's meta (spaces_volume_path).
    volume "data" {
      type            = "host"
      source          = [[ hcl .VolumeName ]]
      access_mode     = "single-node-single-writer"
      attachment_mode = "file-system"
    }

    # Only the task's own files (logs, rendered config) live in the allocation directory.
    ephemeral_disk {
      size = 150
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "2s"
      mode     = "delay"
    }

    service {
      name     = [[ hcl .JobID ]]
      port     = "http"
      provider = "nomad"
      tags = [
        "traefik.enable=true",
        [[ hcl (printf "traefik.http.routers.%s.rule=Host(`%s`)" .JobID .Domain) ]],
      ]

      check {
        name     = "status"
        type     = "http"
        path     = "/status.php"
        interval = "2s"
        timeout  = "2s"
        header {
          Host = [ [[ hcl .Domain ]] ]
        }
      }
    }

    task "nextcloud" {
      driver = "raw_exec"

      config {
        command = [[ hcl .StandinBin ]]
        args    = ["serve"]
      }

      env {
        POSTGRES_HOST             = [[ hcl (printf "%s:%d" .DBHost .DBPort) ]]
        POSTGRES_DB               = [[ hcl .DBName ]]
        POSTGRES_USER             = [[ hcl .DBUser ]]
        NEXTCLOUD_ADMIN_USER      = [[ hcl .AdminUser ]]
        NEXTCLOUD_TRUSTED_DOMAINS = [[ hcl .Domain ]]
        NEXTCLOUD_DATA_DIR        = "${NOMAD_META_spaces_volume_path}"
        NEXTCLOUD_CONFIG_DIR      = "${NOMAD_TASK_DIR}/config"
        NC_LISTEN                 = "${NOMAD_ADDR_http}"
        # Hooks run before serving at every start, as the image's /docker-entrypoint-hooks.d.
        NEXTCLOUD_HOOKS_DIR   = "${NOMAD_TASK_DIR}/hooks"
        NEXTCLOUD_STANDIN_BIN = [[ hcl .StandinBin ]]
        # Read by local/hooks/before-starting/space-settings.sh, as in production.
        SPACES_APPS          = [[ hcl (join .Apps " ") ]]
        SPACES_APPS_DISABLED = [[ hcl (join .DisabledApps " ") ]]
        SPACES_THEMING_NAME  = [[ hcl (env .AssociationName) ]]
        SPACES_IMPRINT_URL   = [[ hcl .ImprintURL ]]
        SPACES_PRIVACY_URL   = [[ hcl .PrivacyURL ]]
        SPACES_OFFICE_URL    = [[ hcl .OfficeURL ]]
        # A hundred stand-ins share two cores here: keep each one small.
        GOMAXPROCS = "1"
        GOMEMLIMIT = "48MiB"
      }

      template {
        destination = "secrets/nextcloud.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
        {{ with nomadVar "[[ .VariablePath ]]" -}}
        POSTGRES_PASSWORD={{ .db_password }}
        NEXTCLOUD_ADMIN_PASSWORD={{ .admin_password }}
        NC_SERVERINFO_TOKEN={{ .serverinfo_token }}
        {{- end }}
        EOT
      }

      # The stand-in merges every config/*.config.json, as Nextcloud merges config/*.config.php.
      template {
        destination = "local/config/limits.config.json"
        change_mode = "noop"
        data        = <<-EOT
        {"one-click-instance": true, "one-click-instance.user-limit": [[ .UserLimit ]][[ if .Maintenance ]], "maintenance": true[[ end ]]}
        EOT
      }

      # The space's system config, the same keys as production's space.config.php (the SMTP
      # password stays in production's secrets/: the stand-in sends no mail).
      template {
        destination = "local/config/space.config.json"
        change_mode = "noop"
        data        = <<-EOT
        {"overwrite.cli.url": [[ json (printf "https://%s" .Domain) ]], "maintenance_window_start": 1
[[- if .Language ]], "default_language": [[ json .Language ]][[ end ]]
[[- if .Locale ]], "default_locale": [[ json .Locale ]][[ end ]]
[[- if .PhoneRegion ]], "default_phone_region": [[ json .PhoneRegion ]][[ end ]]
[[- if .SMTPHost ]], "mail_smtpmode": "smtp", "mail_smtphost": [[ json .SMTPHost ]], "mail_smtpport": [[ .SMTPPort ]], "mail_smtpsecure": [[ json .SMTPSecure ]]
[[- if .SMTPUser ]], "mail_smtpauth": true, "mail_smtpname": [[ json .SMTPUser ]][[ end ]][[ end ]]
[[- if .MailFromAddress ]], "mail_from_address": [[ json .MailFromAddress ]][[ end ]]
[[- if .MailDomain ]], "mail_domain": [[ json .MailDomain ]][[ end ]]}
        EOT
      }

      template {
        destination = "local/hooks/before-starting/space-settings.sh"
        perms       = "0755"
        data        = <<-EOT
        #!/bin/sh
        # The same commands as production's space-settings.sh, through the stand-in's occ.
        set -u
        occ() { "$NEXTCLOUD_STANDIN_BIN" occ "$@"; }
        occ background:cron
        occ app:enable $SPACES_APPS || echo "space-settings: apps not enabled" >&2
        [ -z "$SPACES_APPS_DISABLED" ] || occ app:disable $SPACES_APPS_DISABLED >/dev/null 2>&1 || true
        occ theming:config name "$SPACES_THEMING_NAME"
        [ -z "$SPACES_IMPRINT_URL" ] || occ theming:config imprintUrl "$SPACES_IMPRINT_URL"
        [ -z "$SPACES_PRIVACY_URL" ] || occ theming:config privacyUrl "$SPACES_PRIVACY_URL"
        [ -z "$SPACES_OFFICE_URL" ] || occ config:app:set richdocuments wopi_url --value "$SPACES_OFFICE_URL"
        exit 0
        EOT
      }

      # Nextcloud's hashingCost at bcrypt's lowest, as Nextcloud's own test setup has it: here a
      # hundred stand-ins hash passwords on two cores. Production keeps Nextcloud's default.
      template {
        destination = "local/config/dev.config.json"
        change_mode = "noop"
        data        = <<-EOT
        {"hashingCost": 4}
        EOT
      }

      resources {
        cpu    = [[ .CPU ]]
        memory = [[ .MemoryMB ]]
      }
    }

    # Nextcloud's background jobs, as production's cron task: the stand-in's cron runs them on
    # the same database and data every 5 minutes (and once at start), reading the Nextcloud
    # task's config (raw_exec: the task directories are siblings).
    task "cron" {
      driver = "raw_exec"

      lifecycle {
        hook    = "poststart"
        sidecar = true
      }

      config {
        command = [[ hcl .StandinBin ]]
        args    = ["cron"]
      }

      env {
        POSTGRES_HOST        = [[ hcl (printf "%s:%d" .DBHost .DBPort) ]]
        POSTGRES_DB          = [[ hcl .DBName ]]
        POSTGRES_USER        = [[ hcl .DBUser ]]
        NEXTCLOUD_DATA_DIR   = "${NOMAD_META_spaces_volume_path}"
        NEXTCLOUD_CONFIG_DIR = "${NOMAD_ALLOC_DIR}/../nextcloud/local/config"
        GOMAXPROCS           = "1"
        GOMEMLIMIT           = "24MiB"
      }

      template {
        destination = "secrets/cron.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
        {{ with nomadVar "[[ .VariablePath ]]" -}}
        POSTGRES_PASSWORD={{ .db_password }}
        {{- end }}
        EOT
      }

      resources {
        cpu    = 10
        memory = 32
      }
    }
  }
}
