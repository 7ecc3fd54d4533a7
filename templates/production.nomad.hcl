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
        [[ hcl (printf "traefik.http.routers.%s.tls.certresolver=letsencrypt" .JobID) ]],
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
  }
}
