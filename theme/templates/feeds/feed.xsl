{% autoescape true %}<?xml version="1.0" encoding="UTF-8"?>
{# XSLT 1.0, so browsers can run it: shows any of our Atom or RSS feeds as a plain page that
   says what the feed is and how to subscribe, then lists its alerts. No scripts: the site's
   stylesheet does the styling. Rendered by plugins/alert_feeds/opml.py:render_xsl. #}
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:cascade="{{ cascade_ns }}"
    exclude-result-prefixes="atom cascade">

  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:variable name="lower" select="'abcdefghijklmnopqrstuvwxyz'"/>
  <xsl:variable name="upper" select="'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"/>
  <xsl:variable name="feed-title" select="/atom:feed/atom:title | /rss/channel/title"/>
  <xsl:variable name="feed-description" select="/atom:feed/atom:subtitle | /rss/channel/description"/>
  <xsl:variable name="feed-url" select="/atom:feed/atom:link[@rel='self']/@href | /rss/channel/atom:link[@rel='self']/@href"/>
  <xsl:variable name="page-url" select="/atom:feed/atom:link[@rel='alternate']/@href | /rss/channel/link"/>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="robots" content="noindex"/>
        <title><xsl:value-of select="$feed-title"/> (web feed)</title>
        <link rel="stylesheet" href="{{ css_href }}"/>
      </head>
      <body class="feed-preview">
        <a class="skip-link" href="#alerts">Skip to the alerts</a>
        <header class="site-header">
          <p class="site-name"><a href="{{ home_url }}">{{ site_name }}</a></p>
        </header>
        <main id="main">
          <h1><xsl:value-of select="$feed-title"/></h1>
          <p class="feed-kind">This is a web feed: a page that feed readers check for new alerts, so you do not have to.</p>
          <p><xsl:value-of select="$feed-description"/></p>

          <section aria-labelledby="subscribe">
            <h2 id="subscribe">How to subscribe</h2>
            <ol>
              <li>Copy this address:
                <code class="feed-url"><xsl:value-of select="$feed-url"/></code>
              </li>
              <li>Paste it into your feed reader, for example the one built into your email
                program, or into an email-alert service that sends you new feed items by email.</li>
              <li>New alerts will then reach you as soon as they are published.</li>
            </ol>
            <p>You can also <a href="{$page-url}">read these alerts on the {{ site_name }} website</a>.</p>
          </section>

          <section id="alerts" aria-labelledby="alerts-heading">
            <h2 id="alerts-heading">Alerts in this feed</h2>
            <xsl:choose>
              <xsl:when test="/atom:feed/atom:entry | /rss/channel/item">
                <ol class="alert-list">
                  <xsl:apply-templates select="/atom:feed/atom:entry | /rss/channel/item"/>
                </ol>
              </xsl:when>
              <xsl:otherwise>
                <p>There are no alerts in this feed at the moment.</p>
              </xsl:otherwise>
            </xsl:choose>
          </section>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <xsl:call-template name="alert">
      <xsl:with-param name="level" select="cascade:level"/>
      <xsl:with-param name="title" select="atom:title"/>
      <xsl:with-param name="url" select="atom:link[@rel='alternate']/@href"/>
      <xsl:with-param name="date">
        <xsl:call-template name="iso-date">
          <xsl:with-param name="value" select="atom:published"/>
        </xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="summary" select="atom:summary"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="item">
    <xsl:call-template name="alert">
      <xsl:with-param name="level" select="cascade:level"/>
      <xsl:with-param name="title" select="title"/>
      <xsl:with-param name="url" select="link"/>
      <!-- "Mon, 30 Mar 2026 12:00:00 +0100": keep "30 Mar 2026". -->
      <xsl:with-param name="date" select="substring(pubDate, 6, 11)"/>
      <xsl:with-param name="summary">
        <xsl:call-template name="unescape-html-text">
          <xsl:with-param name="text" select="description"/>
        </xsl:call-template>
      </xsl:with-param>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="alert">
    <xsl:param name="level"/>
    <xsl:param name="title"/>
    <xsl:param name="url"/>
    <xsl:param name="date"/>
    <xsl:param name="summary"/>
    <xsl:variable name="label" select="translate($level, $lower, $upper)"/>
    <xsl:variable name="prefix" select="concat($label, ': ')"/>
    <li class="alert alert-{$level}">
      <article>
        <h3>
          <strong class="level level-{$level}"><xsl:value-of select="$label"/></strong>
          <xsl:text> </xsl:text>
          <a href="{$url}">
            <xsl:choose>
              <!-- The label is already shown: do not make screen readers say it twice. -->
              <xsl:when test="$level and starts-with($title, $prefix)">
                <xsl:value-of select="substring-after($title, $prefix)"/>
              </xsl:when>
              <xsl:otherwise>
                <xsl:value-of select="$title"/>
              </xsl:otherwise>
            </xsl:choose>
          </a>
        </h3>
        <p class="alert-date">Issued <xsl:value-of select="$date"/></p>
        <p class="alert-summary"><xsl:value-of select="$summary"/></p>
      </article>
    </li>
  </xsl:template>

  <!-- "2026-03-30T12:00:00+01:00" becomes "30 Mar 2026", the same as the RSS dates. -->
  <xsl:template name="iso-date">
    <xsl:param name="value"/>
    <xsl:variable name="month" select="number(substring($value, 6, 2))"/>
    <xsl:value-of select="number(substring($value, 9, 2))"/>
    <xsl:text> </xsl:text>
    <xsl:value-of select="substring('JanFebMarAprMayJunJulAugSepOctNovDec', 3 * $month - 2, 3)"/>
    <xsl:text> </xsl:text>
    <xsl:value-of select="substring($value, 1, 4)"/>
  </xsl:template>

  <!-- An RSS description is HTML; ours is escaped plain text. Undo the three escapes
       (ampersand last), rather than disable-output-escaping, which Firefox ignores. -->
  <xsl:template name="unescape-html-text">
    <xsl:param name="text"/>
    <xsl:variable name="no-lt">
      <xsl:call-template name="replace">
        <xsl:with-param name="text" select="$text"/>
        <xsl:with-param name="from" select="'&amp;lt;'"/>
        <xsl:with-param name="to" select="'&lt;'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:variable name="no-gt">
      <xsl:call-template name="replace">
        <xsl:with-param name="text" select="string($no-lt)"/>
        <xsl:with-param name="from" select="'&amp;gt;'"/>
        <xsl:with-param name="to" select="'&gt;'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:call-template name="replace">
      <xsl:with-param name="text" select="string($no-gt)"/>
      <xsl:with-param name="from" select="'&amp;amp;'"/>
      <xsl:with-param name="to" select="'&amp;'"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="substring-before($text, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:value-of select="$text"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
{% endautoescape %}
