<?xml version="1.0" encoding="UTF-8"?>
<!-- A one-stop system's supplement request (YeuCauBoSung) as the progress the national
     portal takes: status 5, the request's code in brackets first in the note (the portal
     answers with it), the documents asked for, the deadline as the new appointment. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:h="urn:lienthong:hoso:1" exclude-result-prefixes="h">
  <xsl:output method="xml" encoding="UTF-8" indent="no"/>
  <xsl:template match="/h:YeuCauBoSung">
    <TrangThai xmlns="urn:lienthong:hoso:1">
      <MaHoSo><xsl:value-of select="h:MaHoSo"/></MaHoSo>
      <Ma>5</Ma>
      <ThoiDiem><xsl:value-of select="h:ThoiDiemYeuCau"/></ThoiDiem>
      <xsl:if test="h:MaCoQuan"><MaCoQuan><xsl:value-of select="h:MaCoQuan"/></MaCoQuan></xsl:if>
      <xsl:if test="h:NguoiYeuCau"><NguoiXuLy><xsl:value-of select="h:NguoiYeuCau"/></NguoiXuLy></xsl:if>
      <NoiDungXuLy>
        <xsl:text>Yêu cầu bổ sung [</xsl:text>
        <xsl:value-of select="h:MaYeuCau"/>
        <xsl:text>]: </xsl:text>
        <xsl:value-of select="h:NoiDungYeuCau"/>
        <xsl:for-each select="h:GiayToCanBoSung/h:GiayTo">
          <xsl:text>; </xsl:text>
          <xsl:value-of select="."/>
        </xsl:for-each>
      </NoiDungXuLy>
      <xsl:if test="h:HanBoSung"><NgayHenTra><xsl:value-of select="h:HanBoSung"/></NgayHenTra></xsl:if>
    </TrangThai>
  </xsl:template>
</xsl:stylesheet>
