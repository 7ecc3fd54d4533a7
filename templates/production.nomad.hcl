# Production jobspec of one space: the official nextcloud image (apache variant) on the docker
# driver, with a Redis sidecar for file locking and caching, its data on a host volume named after
# the job, the user limit in a config file, and Traefik routing tags for its public name.
#
# Filled by package templates with double-square-bracket placeholders; {{ }} blocks are Nomad templates, rendered
# on the client. Secrets (database, admin, Redis passwords and the serverinfo token) are read from
# the job's own Nomad Variable at [[ .VariablePath ]] and land in the task's secrets/ directory:
# they are never written in this file.
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
    healthy_deadline  = "10m"
    progress_deadline = "15m"
    auto_revert       = true
  }

  group "nextcloud" {
    count = 1

    network {
      mode = "bridge"
      port "http" {
        to = 80
      }
    }

    # The space's data volume: a Nomad dynamic host volume named after the job, which the
    # provisioner creates (with its plugin, SPACES_VOLUME_PLUGIN) before it registers the job and
    # deletes when the space is purged. Nomad places the job on the node holding it, for one
    # writer at a time; its files survive restarts, updates and a stop followed by a start.
    volume "data" {
      type            = "host"
      source          = [[ hcl .VolumeName ]]
      read_only       = false
      access_mode     = "single-node-single-writer"
      attachment_mode = "file-system"
    }

    restart {
      attempts = 3
      interval = "10m"
      delay    = "30s"
      mode     = "delay"
    }

    service {
      name     = [[ hcl .JobID ]]
      port     = "http"
      provider = "nomad"
      tags = [
        "traefik.enable=true",
        [[ hcl (printf "traefik.http.routers.%s.rule=Host(`%s`)" .JobID .Domain) ]],
        [[ hcl (printf "traefik.http.routers.%s.entrypoints=websecure" .JobID) ]],
        # TLS with one wildcard certificate for the base domain, shared by every space: Traefik
        # asks its resolver (a DNS-01 one: a wildcard needs it) for *.base domain once and serves
        # every space's router from it, instead of one certificate per space, which a burst of
        # approvals would take past the certificate authority's rate limits.
        [[ hcl (printf "traefik.http.routers.%s.tls=true" .JobID) ]],
        [[ hcl (printf "traefik.http.routers.%s.tls.certresolver=%s" .JobID .TLSResolver) ]],
        [[ hcl (printf "traefik.http.routers.%s.tls.domains[0].main=%s" .JobID .BaseDomain) ]],
        [[ hcl (printf "traefik.http.routers.%s.tls.domains[0].sans=*.%s" .JobID .BaseDomain) ]],
        [[ hcl (printf "traefik.http.services.%s.loadbalancer.server.scheme=http" .JobID) ]],
      ]

      check {
        name     = "status"
        type     = "http"
        path     = "/status.php"
        interval = "10s"
        timeout  = "5s"
        header {
          Host = [ [[ hcl .Domain ]] ]
        }
        check_restart {
          limit = 3
          grace = "5m"
        }
      }
    }

    task "redis" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = true
      }

      config {
        image = "redis:7-alpine"
        args  = ["redis-server", "/secrets/redis.conf"]
      }

      template {
        destination = "secrets/redis.conf"
        change_mode = "restart"
        data        = <<-EOT
        bind 127.0.0.1
        port 6379
        {{ with nomadVar "[[ .VariablePath ]]" }}requirepass {{ .redis_password }}{{ end }}
        EOT
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }

    task "nextcloud" {
      driver = "docker"

      volume_mount {
        volume      = "data"
        destination = "/var/www/html"
      }

      config {
        image = [[ hcl .Image ]]
        ports = ["http"]

        # Nextcloud merges every config/*.config.php: this one carries the accounts limit and,
        # for a suspended space, maintenance mode.
        mount {
          type     = "bind"
          source   = "local/limits.config.php"
          target   = "/var/www/html/config/limits.config.php"
          readonly = true
        }
        # Runs once after the unattended install: sets the serverinfo token from secrets/.
        mount {
          type     = "bind"
          source   = "local/serverinfo-token.sh"
          target   = "/docker-entrypoint-hooks.d/post-installation/serverinfo-token.sh"
          readonly = true
        }
        # The space's system config: mail through the operator's relay, the French defaults.
        mount {
          type     = "bind"
          source   = "local/space.config.php"
          target   = "/var/www/html/config/space.config.php"
          readonly = true
        }
        # Runs at every start, before Apache: background jobs in cron mode, the apps, the
        # theming and Nextcloud Office's server, with idempotent occ commands.
        mount {
          type     = "bind"
          source   = "local/space-settings.sh"
          target   = "/docker-entrypoint-hooks.d/before-starting/space-settings.sh"
          readonly = true
        }
      }

      env {
        POSTGRES_HOST                 = [[ hcl (printf "%s:%d" .DBHost .DBPort) ]]
        POSTGRES_DB                   = [[ hcl .DBName ]]
        POSTGRES_USER                 = [[ hcl .DBUser ]]
        POSTGRES_PASSWORD_FILE        = "/secrets/db_password"
        NEXTCLOUD_ADMIN_USER          = [[ hcl .AdminUser ]]
        NEXTCLOUD_ADMIN_PASSWORD_FILE = "/secrets/admin_password"
        NEXTCLOUD_TRUSTED_DOMAINS     = [[ hcl .Domain ]]
        REDIS_HOST                    = "127.0.0.1"
        REDIS_HOST_PORT               = "6379"
        REDIS_HOST_PASSWORD_FILE      = "/secrets/redis_password"
        OVERWRITEHOST                 = [[ hcl .Domain ]]
        OVERWRITEPROTOCOL             = "https"
        TRUSTED_PROXIES               = "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16"
        PHP_MEMORY_LIMIT              = "512M"
        PHP_UPLOAD_LIMIT              = "2G"
        # Read by local/space-settings.sh (env values, never inside a Nomad template block).
        SPACES_APPS          = [[ hcl (join .Apps " ") ]]
        SPACES_APPS_DISABLED = [[ hcl (join .DisabledApps " ") ]]
        SPACES_THEMING_NAME  = [[ hcl (env .AssociationName) ]]
        SPACES_IMPRINT_URL   = [[ hcl .ImprintURL ]]
        SPACES_PRIVACY_URL   = [[ hcl .PrivacyURL ]]
        SPACES_OFFICE_URL    = [[ hcl .OfficeURL ]]
      }

      template {
        destination = "secrets/db_password"
        change_mode = "restart"
        data        = <<-EOT
        {{- with nomadVar "[[ .VariablePath ]]" }}{{ .db_password }}{{ end -}}
        EOT
      }

      template {
        destination = "secrets/admin_password"
        change_mode = "noop"
        data        = <<-EOT
        {{- with nomadVar "[[ .VariablePath ]]" }}{{ .admin_password }}{{ end -}}
        EOT
      }

      template {
        destination = "secrets/redis_password"
        change_mode = "restart"
        data        = <<-EOT
        {{- with nomadVar "[[ .VariablePath ]]" }}{{ .redis_password }}{{ end -}}
        EOT
      }

      template {
        destination = "secrets/serverinfo_token"
        change_mode = "noop"
        data        = <<-EOT
        {{- with nomadVar "[[ .VariablePath ]]" }}{{ .serverinfo_token }}{{ end -}}
        EOT
      }

      template {
        destination = "local/serverinfo-token.sh"
        perms       = "0755"
        data        = <<-EOT
        #!/bin/sh
        set -e
        php /var/www/html/occ config:app:set serverinfo token --value "$(cat /secrets/serverinfo_token)"
        EOT
      }

      template {
        destination = "local/space.config.php"
        change_mode = "noop"
        data        = <<-EOT
        <?php
        // Rendered by the service for every space: Nextcloud merges it over config.php on every
        // request, so these values win over occ and the admin pages.
        $CONFIG = array (
          'overwrite.cli.url' => [[ php (printf "https://%s" .Domain) ]],
          'maintenance_window_start' => 1,
[[- if .Language ]]
          'default_language' => [[ php .Language ]],
[[- end ]]
[[- if .Locale ]]
          'default_locale' => [[ php .Locale ]],
[[- end ]]
[[- if .PhoneRegion ]]
          'default_phone_region' => [[ php .PhoneRegion ]],
[[- end ]]
[[- if .SMTPHost ]]
          'mail_smtpmode' => 'smtp',
          'mail_smtphost' => [[ php .SMTPHost ]],
          'mail_smtpport' => [[ .SMTPPort ]],
          'mail_smtpsecure' => [[ php .SMTPSecure ]],
[[- if .SMTPUser ]]
          'mail_smtpauth' => true,
          'mail_smtpname' => [[ php .SMTPUser ]],
          'mail_smtppassword' => trim((string) @file_get_contents('/secrets/smtp_password')),
[[- end ]]
[[- end ]]
[[- if .MailFromAddress ]]
          'mail_from_address' => [[ php .MailFromAddress ]],
[[- end ]]
[[- if .MailDomain ]]
          'mail_domain' => [[ php .MailDomain ]],
[[- end ]]
        );
        EOT
      }
[[- if .SMTPUser ]]

      template {
        destination = "secrets/smtp_password"
        change_mode = "noop"
        data        = <<-EOT
        {{- with nomadVar "[[ .VariablePath ]]" }}{{ .smtp_password }}{{ end -}}
        EOT
      }
[[- end ]]

      template {
        destination = "local/space-settings.sh"
        perms       = "0755"
        data        = <<-EOT
        #!/bin/sh
        # The space's app settings, at every start (the image's before-starting hook, as
        # www-data). Every command is idempotent; an app the app store cannot give now is left
        # for the next start, and the provisioner checks the enabled apps.
        set -u
        occ() { php /var/www/html/occ "$@"; }
        occ background:cron
        for app in $SPACES_APPS; do
          occ app:enable "$app" || echo "space-settings: $app not enabled" >&2
        done
        for app in $SPACES_APPS_DISABLED; do
          occ app:disable "$app" >/dev/null 2>&1 || true
        done
        occ theming:config name "$SPACES_THEMING_NAME"
        [ -z "$SPACES_IMPRINT_URL" ] || occ theming:config imprintUrl "$SPACES_IMPRINT_URL"
        [ -z "$SPACES_PRIVACY_URL" ] || occ theming:config privacyUrl "$SPACES_PRIVACY_URL"
        [ -z "$SPACES_OFFICE_URL" ] || occ config:app:set richdocuments wopi_url --value "$SPACES_OFFICE_URL"
        exit 0
        EOT
      }

      template {
        destination = "local/limits.config.php"
        change_mode = "noop"
        data        = <<-EOT
        <?php
        $CONFIG = array (
          'one-click-instance' => true,
          'one-click-instance.user-limit' => [[ .UserLimit ]],
[[- if .Maintenance ]]
          // Suspended by an operator (spaces space suspend). Only ever set here, never unset, so
          // that an operator's own `occ maintenance:mode --on` in config.php keeps working.
          'maintenance' => true,
[[- end ]]
        );
        EOT
      }

      resources {
        cpu    = [[ .CPU ]]
        memory = [[ .MemoryMB ]]
      }
    }

    # Nextcloud's background jobs every 5 minutes, as Nextcloud's docker setup runs them: the
    # same image with /cron.sh (busybox crond, php cron.php as www-data) on the same data and the
    # same config files, so a suspended space's cron sees maintenance mode and does nothing.
    # Started once Nextcloud's task is, which installs the files it runs.
    task "cron" {
      driver = "docker"

      lifecycle {
        hook    = "poststart"
        sidecar = true
      }

      volume_mount {
        volume      = "data"
        destination = "/var/www/html"
      }

      config {
        image      = [[ hcl .Image ]]
        entrypoint = ["/cron.sh"]

        mount {
          type     = "bind"
          source   = "local/limits.config.php"
          target   = "/var/www/html/config/limits.config.php"
          readonly = true
        }
        mount {
          type     = "bind"
          source   = "local/space.config.php"
          target   = "/var/www/html/config/space.config.php"
          readonly = true
        }
      }

      template {
        destination = "local/limits.config.php"
        change_mode = "noop"
        data        = <<-EOT
        <?php
        $CONFIG = array (
          'one-click-instance' => true,
          'one-click-instance.user-limit' => [[ .UserLimit ]],
[[- if .Maintenance ]]
          'maintenance' => true,
[[- end ]]
        );
        EOT
      }

      template {
        destination = "local/space.config.php"
        change_mode = "noop"
        data        = <<-EOT
        <?php
        // Rendered by the service for every space: Nextcloud merges it over config.php on every
        // request, so these values win over occ and the admin pages.
        $CONFIG = array (
          'overwrite.cli.url' => [[ php (printf "https://%s" .Domain) ]],
          'maintenance_window_start' => 1,
[[- if .Language ]]
          'default_language' => [[ php .Language ]],
[[- end ]]
[[- if .Locale ]]
          'default_locale' => [[ php .Locale ]],
[[- end ]]
[[- if .PhoneRegion ]]
          'default_phone_region' => [[ php .PhoneRegion ]],
[[- end ]]
[[- if .SMTPHost ]]
          'mail_smtpmode' => 'smtp',
          'mail_smtphost' => [[ php .SMTPHost ]],
          'mail_smtpport' => [[ .SMTPPort ]],
          'mail_smtpsecure' => [[ php .SMTPSecure ]],
[[- if .SMTPUser ]]
          'mail_smtpauth' => true,
          'mail_smtpname' => [[ php .SMTPUser ]],
          'mail_smtppassword' => trim((string) @file_get_contents('/secrets/smtp_password')),
[[- end ]]
[[- end ]]
[[- if .MailFromAddress ]]
          'mail_from_address' => [[ php .MailFromAddress ]],
[[- end ]]
[[- if .MailDomain ]]
          'mail_domain' => [[ php .MailDomain ]],
[[- end ]]
        );
        EOT
      }
[[- if .SMTPUser ]]

      template {
        destination = "secrets/smtp_password"
        change_mode = "noop"
        data        = <<-EOT
        {{- with nomadVar "[[ .VariablePath ]]" }}{{ .smtp_password }}{{ end -}}
        EOT
      }
[[- end ]]

      resources {
        cpu    = 100
        memory = 256
      }
    }
  }
}
